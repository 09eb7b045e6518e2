"""Who is writing: platform identities resolved to customers."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy.exc import IntegrityError
from sqlmodel import or_, select

from bot.errors import CustomerNotFoundError
from bot.store.database import Database
from bot.store.tables import Customer, Identity, as_utc, utcnow
from bot.types import Inbound


LAST_SEEN_PRECISION = timedelta(minutes=1)


class CustomerDirectory:
    def __init__(self, database: Database) -> None:
        self._db = database

    async def identify(self, inbound: Inbound) -> Customer:
        """The customer behind this platform account, created on first contact.

        Identities are only ever matched on (platform, workspace, user id); a display
        name never links two accounts.
        """
        workspace = inbound.conversation.workspace
        for _ in range(2):  # a concurrent first message from the same account may win the insert
            async with self._db.session() as session:
                found = (
                    await session.exec(
                        select(Customer)
                        .join(Identity, Identity.customer_id == Customer.id)  # type: ignore[arg-type]
                        .where(
                            Identity.platform == inbound.platform,
                            Identity.workspace == workspace,
                            Identity.platform_user_id == inbound.user_id,
                        )
                    )
                ).first()
                if found is not None:
                    moved_org = bool(inbound.external_org) and found.organisation != inbound.external_org
                    # last_seen_at needs minute precision, not a write on every message.
                    if moved_org or utcnow() - as_utc(found.last_seen_at) > LAST_SEEN_PRECISION:
                        found.last_seen_at = utcnow()
                        if moved_org:
                            found.organisation = inbound.external_org
                        session.add(found)
                        await session.commit()
                    return found
                customer = Customer(name=inbound.display_name, organisation=inbound.external_org)
                session.add(customer)
                await session.flush()
                assert customer.id is not None
                session.add(
                    Identity(
                        customer_id=customer.id,
                        platform=inbound.platform,
                        workspace=workspace,
                        platform_user_id=inbound.user_id,
                        display_name=inbound.display_name,
                    )
                )
                try:
                    await session.commit()
                    return customer
                except IntegrityError:
                    await session.rollback()
        raise RuntimeError("identity insert kept conflicting")  # pragma: no cover

    async def find(self, ref: str) -> Customer:
        """A customer by external id or email address."""
        async with self._db.session() as session:
            customer = (
                await session.exec(select(Customer).where(or_(Customer.external_id == ref, Customer.email == ref)))
            ).first()
        if customer is None:
            raise CustomerNotFoundError(
                f"no customer with external id or email '{ref}'",
                fix="check the reference, or import customers first (`rapport import`)",
            )
        return customer

    async def get(self, customer_id: int) -> Customer | None:
        async with self._db.session() as session:
            return await session.get(Customer, customer_id)

    async def attach(self, customer: Customer, platform: str, workspace: str, platform_user_id: str) -> None:
        """Bind a platform account to a known customer (used by the console's ``--as``)."""
        async with self._db.session() as session:
            existing = (
                await session.exec(
                    select(Identity).where(
                        Identity.platform == platform,
                        Identity.workspace == workspace,
                        Identity.platform_user_id == platform_user_id,
                    )
                )
            ).first()
            if existing is not None:
                existing.customer_id = customer.id  # type: ignore[assignment]
                session.add(existing)
            else:
                assert customer.id is not None
                session.add(
                    Identity(customer_id=customer.id, platform=platform, workspace=workspace,
                             platform_user_id=platform_user_id, display_name=customer.name)
                )
            await session.commit()

    async def save(self, customer: Customer) -> Customer:
        async with self._db.session() as session:
            session.add(customer)
            await session.commit()
            await session.refresh(customer)
            return customer
