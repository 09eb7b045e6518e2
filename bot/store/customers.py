"""Who is writing: platform identities resolved to customers."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlmodel import col, or_, select, update

from bot.errors import CustomerNotFoundError
from bot.store.database import Database
from bot.store.records import CustomerRecord
from bot.store.tables import Customer, Identity, as_utc, utcnow
from bot.types import Inbound


LAST_SEEN_PRECISION = timedelta(minutes=1)


class CustomerDirectory:
    """Customers and their platform identities. Hands out :class:`CustomerRecord` values; every write
    goes through a method taking the customer's id."""

    def __init__(self, database: Database) -> None:
        self._db = database

    async def identify(self, inbound: Inbound) -> CustomerRecord:
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
                    return CustomerRecord.of(found)
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
                    return CustomerRecord.of(customer)
                except IntegrityError:
                    await session.rollback()
        raise RuntimeError("identity insert kept conflicting")  # pragma: no cover

    async def find(self, ref: str) -> CustomerRecord:
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
        return CustomerRecord.of(customer)

    async def get(self, customer_id: int) -> CustomerRecord | None:
        """The customer with this id, or None (never stored, or forgotten)."""
        async with self._db.session() as session:
            found = await session.get(Customer, customer_id)
        return CustomerRecord.of(found) if found is not None else None

    async def all(self) -> list[CustomerRecord]:
        """Every customer, by id."""
        async with self._db.session() as session:
            return [CustomerRecord.of(row) for row in (await session.exec(select(Customer).order_by(col(Customer.id)))).all()]

    async def attach(self, customer: CustomerRecord, platform: str, workspace: str, platform_user_id: str) -> None:
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
                existing.customer_id = customer.id
                session.add(existing)
            else:
                session.add(
                    Identity(customer_id=customer.id, platform=platform, workspace=workspace,
                             platform_user_id=platform_user_id, display_name=customer.name)
                )
            await session.commit()

    async def update(self, customer_id: int, **changes: Any) -> None:
        """Store new values for a customer's columns (e.g. ``stage="active"``); a forgotten id changes nothing."""
        wrong = (set(changes) - set(Customer.model_fields)) | ({"id"} & set(changes))
        if wrong:
            raise ValueError(f"not a customer column that can change: {', '.join(sorted(wrong))}")
        if not changes:
            return
        async with self._db.session() as session:
            await session.exec(update(Customer).where(col(Customer.id) == customer_id).values(**changes))  # type: ignore[call-overload]
            await session.commit()
