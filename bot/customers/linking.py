"""Verified identity linking: a one-time code issued on one platform, entered on another.

Accounts are merged only on proof (the code), never on a display name or a user's
claim. Each merge leaves an audit record.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import timedelta

from sqlmodel import col, select, update

from bot.store.database import Database
from bot.store.memory import CustomerMemory
from bot.store.tables import (
    Customer,
    FeedbackRecord,
    Handoff,
    Identity,
    IdentityLink,
    LinkCode,
    Order,
    ProductEvent,
    Ticket,
    Turn,
    as_utc,
    utcnow,
)
from bot.store.vectors import VectorStore

CODE_TTL = timedelta(minutes=10)
_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O or 1/I: codes are read and typed by people
_MOVABLE = (Identity, Turn, Order, ProductEvent, Ticket, FeedbackRecord, Handoff, IdentityLink)


def _normalise(code: str) -> str:
    return "".join(ch for ch in code.upper() if ch.isalnum())


def _digest(code: str) -> str:
    return hashlib.sha256(_normalise(code).encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class LinkResult:
    linked: bool
    customer_id: int | None
    reason: str  # why not, when not linked


class IdentityLinker:
    def __init__(self, database: Database, vectors: VectorStore, memory: CustomerMemory) -> None:
        self._db = database
        self._vectors = vectors
        self._memory = memory

    async def issue(self, customer_id: int) -> str:
        """A fresh one-time code for this customer, valid for ten minutes. Only its hash is stored."""
        raw = "".join(secrets.choice(_ALPHABET) for _ in range(8))
        async with self._db.session() as session:
            session.add(LinkCode(code_hash=_digest(raw), customer_id=customer_id, expires_at=utcnow() + CODE_TTL))
            await session.commit()
        return f"{raw[:4]}-{raw[4:]}"

    async def redeem(self, code: str, customer_id: int, platform: str, platform_user_id: str) -> LinkResult:
        """Merge the customer who entered ``code`` with the one it was issued to."""
        if len(_normalise(code)) != 8:
            return LinkResult(False, None, "that doesn't look like a link code (8 letters and digits, e.g. ABCD-2345)")
        async with self._db.session() as session:
            link = (await session.exec(select(LinkCode).where(LinkCode.code_hash == _digest(code)).with_for_update())).first()
            if link is None or link.used_at is not None:
                return LinkResult(False, None, "that code is not valid or was already used")
            if as_utc(link.expires_at) < utcnow():
                return LinkResult(False, None, "that code has expired; send /link again to get a new one")
            if link.customer_id == customer_id:
                return LinkResult(False, customer_id, "this account is already linked to that one")
            keep, drop = await self._survivor(session, link.customer_id, customer_id)
            if keep is None:
                return LinkResult(False, None, "these accounts belong to two different customer records; please ask our team")
            # Spend the code with a conditional UPDATE: of two redeemers at once (SQLite has no
            # row lock for the SELECT above), exactly one changes the row and merges.
            spent = await session.exec(
                update(LinkCode).where(col(LinkCode.id) == link.id, col(LinkCode.used_at).is_(None))  # type: ignore[call-overload]
                .values(used_at=utcnow())
            )
            if spent.rowcount != 1:
                await session.rollback()
                return LinkResult(False, None, "that code is not valid or was already used")
            for table in _MOVABLE:
                await session.exec(update(table).where(table.customer_id == drop).values(customer_id=keep))  # type: ignore[attr-defined, call-overload]
            await session.exec(update(LinkCode).where(col(LinkCode.customer_id) == drop).values(customer_id=keep))  # type: ignore[call-overload]
            session.add(IdentityLink(customer_id=keep, merged_customer_id=drop, platform=platform,
                                     platform_user_id=platform_user_id, method="one-time-code"))
            dropped = await session.get(Customer, drop)
            kept = await session.get(Customer, keep)
            assert kept is not None and dropped is not None
            kept.name = kept.name or dropped.name
            kept.email = kept.email or dropped.email
            kept.attributes = {**(dropped.attributes or {}), **(kept.attributes or {})}
            kept.preferences = {**(dropped.preferences or {}), **(kept.preferences or {})}
            session.add(kept)
            await session.delete(dropped)
            await session.commit()
        await self._memory.reassign(drop, keep)
        return LinkResult(True, keep, "")

    async def _survivor(self, session: object, issuer: int, redeemer: int) -> tuple[int | None, int]:
        """Keep the record that came from the customer database (has an external id)."""
        rows = (await session.exec(select(Customer.id, Customer.external_id).where(col(Customer.id).in_([issuer, redeemer])))).all()  # type: ignore[attr-defined]
        external = {pk: ext for pk, ext in rows}
        if external.get(issuer) and external.get(redeemer):
            return None, redeemer
        if external.get(redeemer):
            return redeemer, issuer
        return issuer, redeemer
