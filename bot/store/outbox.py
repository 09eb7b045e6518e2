"""The outbox: replies stored with their turn, handed to the platform until it accepts them.

An entry is written in the turn's own transaction (``ConversationLog.record``), so a stored turn
always has its reply waiting. A sender *leases* an entry before calling the platform (two processes
never send one entry at once), marks it delivered only when the platform accepted it, and clears the
body then: the turn in SQL is the record of what was said.

What it keeps of a delivered reply is what a reaction needs: a digest of the platform's id of the message
it was posted as (``sent_as``), the customer message it answered and its conversation
(:meth:`Outbox.reacted`). A reply shown while it streamed has a placeholder message, recorded by its key
before the turn is stored (:meth:`Outbox.hold_placeholder`); leasing the entry hands the placeholder to
the sender (``Reply.edit_message``), which edits it into the reply.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import timedelta
from typing import Any

from pydantic import TypeAdapter
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, delete, select, update

from bot.store.database import Database
from bot.store.inbox import conversation_digest, message_digest
from bot.store.statuses import OutboxStatus
from bot.store.tables import OutboxEntry, StreamPlaceholder, utcnow
from bot.types import ConversationKey, Reply

# A send whose lease ran out died with its process; another may send the entry. The sender renews
# it every third of this while the platform call runs (SDK retries can take a while).
SEND_LEASE = timedelta(seconds=10)
# Transient failures are retried with growing waits; after this many attempts the entry is failed.
MAX_SEND_ATTEMPTS = 8

_REPLY = TypeAdapter(Reply)


def reply_key(platform: str, in_reply_to: str) -> str:
    """The delivery key of the reply to one message: the same on every attempt and every process."""
    return "r" + message_digest(platform, in_reply_to)


def new_entry(reply: Reply, customer_id: int | None) -> OutboxEntry:
    """The row to add in the turn's transaction; the reply carries its own delivery key. Only a
    customer's reply keeps what a reaction maps back to: a row without one (a /forget's confirmation,
    a desk notice) would keep ids nothing can delete by customer."""
    mapped = customer_id is not None
    return OutboxEntry(key=reply.delivery_key, platform=reply.conversation.platform,
                       conversation=conversation_digest(reply.conversation), customer_id=customer_id,
                       reply=_REPLY.dump_python(reply, mode="json"),
                       in_reply_to=reply.in_reply_to[:200] if mapped else "",
                       answered_in=str(reply.conversation)[:600] if mapped else "")


@dataclass(frozen=True, slots=True)
class ReactedReply:
    """The reply a platform message was posted as: the customer message it answered, and where."""

    in_reply_to: str
    conversation: ConversationKey


@dataclass(frozen=True, slots=True)
class PendingReply:
    entry_id: int
    reply: Reply
    attempts: int
    owner: str


class Outbox:
    def __init__(self, database: Database) -> None:
        self._db = database

    async def add(self, reply: Reply, customer_id: int | None = None) -> bool:
        """Store a reply that is not a turn's (an agent's relay, a CSAT question); False if one with
        its delivery key is there already (the desk message was redelivered)."""
        return await self._db.insert_once(new_entry(reply, customer_id))

    async def lease(self, key: str, owner: str) -> PendingReply | None:
        """Lease one undelivered entry for sending now; None if delivered, failed, not due, or being sent."""
        now = utcnow()
        async with self._db.session() as session:
            entry = (await session.exec(select(OutboxEntry).where(OutboxEntry.key == key))).first()
            if entry is None or entry.id is None or entry.status != OutboxStatus.PENDING or entry.reply is None:
                return None
            taken = await session.exec(
                update(OutboxEntry)
                .where(col(OutboxEntry.id) == entry.id, col(OutboxEntry.status) == OutboxStatus.PENDING,
                       col(OutboxEntry.next_attempt_at) <= now,
                       (col(OutboxEntry.lease_until).is_(None)) | (col(OutboxEntry.lease_until) < now))
                .values(owner=owner, lease_until=now + SEND_LEASE, attempts=entry.attempts + 1)
                .execution_options(synchronize_session=False)
            )
            await session.commit()
            if taken.rowcount != 1:
                return None
            reply = _REPLY.validate_python(entry.reply)
            placeholder = (await session.exec(select(StreamPlaceholder.message)
                                              .where(StreamPlaceholder.key == key))).first()
            if placeholder:
                reply = replace(reply, edit_message=placeholder)
            if entry.attempts and entry.owner != owner:
                # Tried before by another process, which did not live to say how it went.
                reply = replace(reply, maybe_sent=True)
            return PendingReply(entry.id, reply, entry.attempts + 1, owner)

    async def due(
        self, platforms: set[str], conversation: ConversationKey | None = None, limit: int = 100
    ) -> list[tuple[str, str]]:
        """(key, conversation digest) of undelivered entries for these platforms, oldest first. Entries
        not due yet are listed too: a caller sending in order must not pass them."""
        query = (select(OutboxEntry.key, OutboxEntry.conversation)
                 .where(col(OutboxEntry.status) == OutboxStatus.PENDING, col(OutboxEntry.platform).in_(sorted(platforms)))
                 .order_by(col(OutboxEntry.id)).limit(limit))
        if conversation is not None:
            query = query.where(col(OutboxEntry.conversation) == conversation_digest(conversation))
        async with self._db.session() as session:
            return [(key, where) for key, where in (await session.exec(query)).all()]

    async def renew(self, pending: PendingReply) -> None:
        async with self._db.session() as session:
            await session.exec(update(OutboxEntry)
                               .where(col(OutboxEntry.id) == pending.entry_id, col(OutboxEntry.owner) == pending.owner,
                                      col(OutboxEntry.status) == OutboxStatus.PENDING)
                               .values(lease_until=utcnow() + SEND_LEASE).execution_options(synchronize_session=False))
            await session.commit()

    async def hurry(self, key: str) -> None:
        """The platform sent the message again: an undelivered reply to it is due now, whatever wait
        an earlier failure set."""
        async with self._db.session() as session:
            await session.exec(update(OutboxEntry).where(col(OutboxEntry.key) == key, col(OutboxEntry.status) == OutboxStatus.PENDING)
                               .values(next_attempt_at=utcnow()).execution_options(synchronize_session=False))
            await session.commit()

    async def delivered(self, pending: PendingReply, sent_as: str = "") -> None:
        """The platform accepted the reply; ``sent_as`` is its id for the (first) message it was posted
        as, kept as a digest so a reaction on that message finds this reply."""
        values: dict[str, Any] = {"status": OutboxStatus.DELIVERED, "reply": None, "delivered_at": utcnow(),
                                  "lease_until": None}
        if sent_as:
            values["sent_as"] = message_digest(pending.reply.conversation.platform, sent_as)
        await self._finish(pending, status=OutboxStatus.PENDING, values=values,
                           placeholder=pending.reply.delivery_key)

    async def reacted(self, platform: str, message: str) -> ReactedReply | None:
        """The delivered reply posted as the platform's message ``message``; None when no reply was (a
        reaction on a customer's message, on a desk note, or on a reply whose customer was forgotten)."""
        async with self._db.session() as session:
            row = (await session.exec(
                select(OutboxEntry.in_reply_to, OutboxEntry.answered_in)
                .where(col(OutboxEntry.platform) == platform,
                       col(OutboxEntry.sent_as) == message_digest(platform, message))
                .order_by(col(OutboxEntry.id).desc()))).first()
        if row is None or not row[0] or not row[1]:
            return None
        return ReactedReply(row[0], ConversationKey.parse(row[1]))

    async def hold_placeholder(self, key: str, platform: str, message: str) -> None:
        """Record the message a reply's stream is shown in, by the reply's delivery key (before the turn
        that stores the reply commits); a second one for the same key keeps the first."""
        async with self._db.session() as session:
            session.add(StreamPlaceholder(key=key, platform=platform, message=message[:200]))
            try:
                await session.commit()
            except IntegrityError:
                await session.rollback()

    async def placeholder(self, key: str) -> str | None:
        """The placeholder message recorded for a reply's key, if any (a retried turn reuses it)."""
        async with self._db.session() as session:
            return (await session.exec(select(StreamPlaceholder.message).where(StreamPlaceholder.key == key))).first()

    async def retry_later(self, pending: PendingReply, wait: timedelta, error: str) -> bool:
        """Put the entry back for a later attempt; after MAX_SEND_ATTEMPTS mark it failed (returns False)."""
        if pending.attempts >= MAX_SEND_ATTEMPTS:
            await self.give_up(pending, error)
            return False
        await self._finish(pending, status=OutboxStatus.PENDING, values={
            "next_attempt_at": utcnow() + wait, "lease_until": None, "last_error": error[:200]})
        return True

    async def give_up(self, pending: PendingReply, error: str) -> None:
        await self._finish(pending, status=OutboxStatus.PENDING, values={
            "status": OutboxStatus.FAILED, "reply": None, "lease_until": None, "last_error": error[:200]},
            placeholder=pending.reply.delivery_key)

    async def _finish(self, pending: PendingReply, status: str, values: dict[str, Any], placeholder: str = "") -> None:
        async with self._db.session() as session:
            await session.exec(
                update(OutboxEntry)
                .where(col(OutboxEntry.id) == pending.entry_id, col(OutboxEntry.owner) == pending.owner,
                       col(OutboxEntry.status) == status)
                .values(**values)
            )
            if placeholder:  # the reply is done with: its placeholder was edited into it (or is moot)
                await session.exec(delete(StreamPlaceholder).where(col(StreamPlaceholder.key) == placeholder))
            await session.commit()

    async def stored_reply(self, platform: str, in_reply_to: str) -> Reply | None:
        """The reply stored for a message, while it is still undelivered (tests and the console)."""
        async with self._db.session() as session:
            entry = (await session.exec(select(OutboxEntry).where(OutboxEntry.key == reply_key(platform, in_reply_to)))).first()
        return _REPLY.validate_python(entry.reply) if entry is not None and entry.reply else None


def with_key(reply: Reply) -> Reply:
    return replace(reply, delivery_key=reply_key(reply.conversation.platform, reply.in_reply_to))
