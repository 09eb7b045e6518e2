"""The durable inbox: every accepted message is stored before the platform hears "got it", its turn
runs once, in the order the conversation was written, and a crash in the middle is taken over.

A message is ``queued`` when stored; a process *leases* the oldest queued message of a conversation
(``processing``, with ``lease_until`` renewed while the turn runs), and the turn's own transaction
marks it ``answered`` or ``silent`` (``ConversationLog.record``). A process that dies leaves a lease
that simply runs out: seconds later any process takes the message over.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass, replace
from datetime import timedelta
from enum import StrEnum
from typing import Any

from pydantic import TypeAdapter
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, delete, or_, select, update

from bot.store.database import Database
from bot.store.statuses import FINISHED_INBOX, InboxStatus
from bot.store.tables import InboxEntry, OutboxEntry, as_utc, utcnow
from bot.types import ConversationKey, Inbound

# How long a turn may run before another process may assume its owner died. The owner renews the
# lease every LEASE / 3 while the turn runs, so only a dead (or frozen) process loses it.
LEASE = timedelta(seconds=10)
# A message whose turn failed this often is set aside (``failed``) so it cannot block its conversation.
MAX_ATTEMPTS = 3
FINISHED = FINISHED_INBOX

log = logging.getLogger("rapport.inbox")
_INBOUND = TypeAdapter(Inbound)


def conversation_digest(conversation: ConversationKey | str) -> str:
    """The inbox keeps a digest, not the conversation key: it must not identify anyone after /forget."""
    return hashlib.sha256(str(conversation).encode()).hexdigest()[:32]


def message_digest(platform: str, message_id: str) -> str:
    """Platform message ids embed channel and user ids (``D0123:1700000000.1``, a Telegram chat id)."""
    return hashlib.sha256(f"{platform}\x00{message_id}".encode()).hexdigest()[:40]


class LeaseLost(Exception):
    """The turn's lease passed to another process (this one stalled past it): its work is not stored."""


class Arrival(StrEnum):
    NEW = "new"  # stored now: its turn is to run
    PENDING = "pending"  # stored before and not finished (queued, or running somewhere)
    FINISHED = "finished"  # answered (or deliberately silent) before: a redelivery


@dataclass(frozen=True, slots=True)
class QueuedMessage:
    """A leased inbox entry: the message to answer, and the proof of the lease."""

    entry_id: int
    inbound: Inbound
    owner: str


def _payload(inbound: Inbound) -> dict[str, Any]:
    return _INBOUND.dump_python(replace(inbound, raw=None), mode="json")  # type: ignore[no-any-return]


class Inbox:
    def __init__(self, database: Database) -> None:
        self._db = database

    async def enqueue(self, inbound: Inbound) -> Arrival:
        """Store the message durably (committed when this returns), or say what became of it before."""
        key = message_digest(inbound.platform, inbound.message_id)
        async with self._db.session() as session:
            session.add(InboxEntry(
                platform=inbound.platform, message_id=key, conversation=conversation_digest(inbound.conversation),
                status=InboxStatus.QUEUED, payload=_payload(inbound), sent_at=inbound.received_at,
            ))
            try:
                await session.commit()
                return Arrival.NEW
            except IntegrityError:
                await session.rollback()
            status = (await session.exec(
                select(InboxEntry.status).where(InboxEntry.platform == inbound.platform, InboxEntry.message_id == key)
            )).one()
        return Arrival.FINISHED if status in FINISHED else Arrival.PENDING

    async def lease_next(self, conversation: ConversationKey | str, owner: str) -> QueuedMessage | None:
        """Lease the oldest unfinished message of a conversation, or None when there is none to run now.

        Oldest first, and never past an unfinished one that another process still holds: the turns of
        a conversation are stored in the order it was written, whichever process received each message.
        """
        digest = conversation_digest(conversation)
        now = utcnow()
        async with self._db.session() as session:
            head = (await session.exec(
                select(InboxEntry)
                .where(InboxEntry.conversation == digest, col(InboxEntry.status).in_([InboxStatus.QUEUED, InboxStatus.PROCESSING]))
                .order_by(col(InboxEntry.sent_at), col(InboxEntry.id))
                .limit(1)
            )).first()
            if head is None or head.id is None or head.payload is None:
                return None
            if head.status == InboxStatus.PROCESSING and head.lease_until is not None and as_utc(head.lease_until) > now \
                    and head.owner != owner:
                return None  # a live turn elsewhere: its process goes on with the rest
            taken = await session.exec(
                update(InboxEntry)
                .where(col(InboxEntry.id) == head.id, col(InboxEntry.status) == head.status,
                       col(InboxEntry.owner) == head.owner, col(InboxEntry.attempts) == head.attempts)
                .values(status=InboxStatus.PROCESSING, owner=owner, lease_until=now + LEASE, attempts=head.attempts + 1)
                .execution_options(synchronize_session=False)
            )
            await session.commit()
            if taken.rowcount != 1:  # another process leased it between our read and our write
                return None
            if head.status == InboxStatus.PROCESSING:
                log.info("took over a turn whose process stopped", extra={"inbox_id": head.id})
            return QueuedMessage(head.id, _INBOUND.validate_python(head.payload), owner)

    async def renew(self, message: QueuedMessage) -> bool:
        """Extend the lease of a running turn; False if it was lost (taken over, or finished)."""
        async with self._db.session() as session:
            renewed = await session.exec(
                update(InboxEntry)
                .where(col(InboxEntry.id) == message.entry_id, col(InboxEntry.owner) == message.owner,
                       col(InboxEntry.status) == InboxStatus.PROCESSING)
                .values(lease_until=utcnow() + LEASE)
            )
            await session.commit()
            return bool(renewed.rowcount == 1)

    async def identified(self, message: QueuedMessage, customer_id: int) -> None:
        """Note whose message it is, so a forget can find and erase it while it is still queued."""
        async with self._db.session() as session:
            await session.exec(update(InboxEntry).where(col(InboxEntry.id) == message.entry_id)
                               .values(customer_id=customer_id))
            await session.commit()

    async def failed(self, message: QueuedMessage) -> bool:
        """Give a failed turn back to the queue (the platform's redelivery or the sweeper retries it);
        after MAX_ATTEMPTS, set it aside. Returns True when it was set aside."""
        async with self._db.session() as session:
            entry = await session.get(InboxEntry, message.entry_id)
            if entry is None or entry.status != InboxStatus.PROCESSING or entry.owner != message.owner:
                return False
            given_up = entry.attempts >= MAX_ATTEMPTS
            entry.status, entry.owner, entry.lease_until = (InboxStatus.FAILED if given_up else InboxStatus.QUEUED), "", None
            if given_up:
                entry.payload, entry.finished_at = None, utcnow()
            session.add(entry)
            await session.commit()
        if given_up:
            log.error("a message failed %d times and was set aside", MAX_ATTEMPTS, extra={"inbox_id": message.entry_id})
        return given_up

    async def claim(self, inbound: Inbound) -> bool:
        """Mark a message as taken once, for work that is not a queued turn (an agent's relay):
        True the first time, False for a redelivery. ``release`` undoes a claim whose work failed."""
        # A claim is no turn: kept out of every conversation's queue, so it can never stand at the head
        # of the customer's queue (lease_next never passes an unfinished head) and hold their turns.
        return await self._db.insert_once(InboxEntry(
            platform=inbound.platform, message_id=message_digest(inbound.platform, inbound.message_id),
            status=InboxStatus.PROCESSING, conversation=conversation_digest(f"claim:{inbound.conversation}")))

    async def release(self, inbound: Inbound) -> None:
        key = message_digest(inbound.platform, inbound.message_id)
        async with self._db.session() as session:
            await session.exec(delete(InboxEntry).where(
                col(InboxEntry.platform) == inbound.platform, col(InboxEntry.message_id) == key,
                col(InboxEntry.status) == InboxStatus.PROCESSING,
            ))
            await session.commit()

    async def waiting_conversations(self, limit: int = 100) -> list[ConversationKey]:
        """Conversations with a message nobody is running: queued, or leased by a process that stopped."""
        now = utcnow()
        async with self._db.session() as session:
            rows = (await session.exec(
                select(InboxEntry.payload)
                .where(or_(col(InboxEntry.status) == InboxStatus.QUEUED,
                           (col(InboxEntry.status) == InboxStatus.PROCESSING) & (col(InboxEntry.lease_until) < now)))
                .order_by(col(InboxEntry.sent_at), col(InboxEntry.id))
                .limit(limit)
            )).all()
        keys: dict[str, ConversationKey] = {}
        for payload in rows:
            if payload:
                key = _INBOUND.validate_python(payload).conversation
                keys.setdefault(str(key), key)
        return list(keys.values())


async def scrub_customer(session: Any, customer_id: int) -> None:
    """Within a forget's transaction: erase what the inbox and outbox hold of this customer (message
    text, replies, conversation keys), keeping only opaque digests so redeliveries stay deduplicated.
    A message of theirs still queued is closed unanswered: its words must not outlive the forget."""
    await session.exec(
        update(InboxEntry).where(col(InboxEntry.customer_id) == customer_id)
        .values(payload=None, customer_id=None, status=InboxStatus.SILENT, finished_at=utcnow())
    )
    # Undelivered replies too: they quote the customer's data, and forgetting leaves no byte behind.
    await session.exec(delete(OutboxEntry).where(col(OutboxEntry.customer_id) == customer_id))
