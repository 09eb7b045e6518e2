"""The durable inbox: each (platform, message id) is answered at most once, across restarts."""

from __future__ import annotations

import hashlib
from datetime import timedelta

from sqlalchemy.exc import IntegrityError
from sqlmodel import select

from bot.store.database import Database
from bot.store.tables import InboxEntry, as_utc, utcnow
from bot.types import Inbound

# A message still "processing" after this long belonged to a process that died; it may be retried.
STALE_AFTER = timedelta(minutes=5)


def conversation_digest(inbound: Inbound) -> str:
    """The inbox keeps a digest, not the conversation key: it must not identify anyone after /forget."""
    return hashlib.sha256(str(inbound.conversation).encode()).hexdigest()[:32]


class Inbox:
    def __init__(self, database: Database) -> None:
        self._db = database

    async def claim(self, inbound: Inbound) -> bool:
        """True if this message is new (or its earlier attempt died); False for a redelivery."""
        async with self._db.session() as session:
            session.add(
                InboxEntry(platform=inbound.platform, message_id=inbound.message_id,
                           conversation=conversation_digest(inbound))
            )
            try:
                await session.commit()
                return True
            except IntegrityError:
                await session.rollback()
            entry = (
                await session.exec(
                    select(InboxEntry)
                    .where(InboxEntry.platform == inbound.platform, InboxEntry.message_id == inbound.message_id)
                    .with_for_update()
                )
            ).one()
            if entry.status != "processing" or utcnow() - as_utc(entry.received_at) < STALE_AFTER:
                return False
            entry.received_at = utcnow()
            session.add(entry)
            await session.commit()
            return True

    async def release(self, inbound: Inbound) -> None:
        """Forget a claim whose turn failed, so the platform's redelivery is answered instead of lost."""
        async with self._db.session() as session:
            entry = (
                await session.exec(
                    select(InboxEntry).where(
                        InboxEntry.platform == inbound.platform, InboxEntry.message_id == inbound.message_id
                    )
                )
            ).first()
            if entry is not None and entry.status == "processing":
                await session.delete(entry)
                await session.commit()


async def scrub_customer(session: object, customer_id: int) -> None:
    """Within a forget's transaction: erase what the inbox and outbox hold of this customer
    (message text, replies, platform ids), keeping only opaque keys so redeliveries stay deduplicated."""
    return None  # filled in by the outbox change
