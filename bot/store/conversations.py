"""Turns and handoffs of conversations."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlmodel import col, select, update

from bot.store.database import Database
from bot.store.dialogue import DialogueState, save_state
from bot.store.tables import Customer, ForgottenCustomer, Handoff, InboxEntry, Turn, as_utc, utcnow
from bot.store.inbox import LeaseLost, message_digest
from bot.store.outbox import new_entry
from bot.store.records import HandoffRecord, TurnRecord
from bot.store.statuses import OPEN_HANDOFF, InboxStatus
from bot.types import ConversationKey, Inbound, Reply


async def _forgotten_meanwhile(session: Any, customer_id: int | None, since: datetime | None) -> bool:
    if customer_id is None or since is None:
        return False
    tomb = await session.get(ForgottenCustomer, customer_id)
    # An id SQLite reused for a newer customer is not that customer.
    return tomb is not None and as_utc(tomb.forgotten_at) >= as_utc(since)


class ConversationLog:
    def __init__(self, database: Database) -> None:
        self._db = database

    async def recent(self, conversation: str, customer_id: int, limit: int) -> tuple[TurnRecord, ...]:
        """The last ``limit`` turns of this conversation with this customer, oldest first, as records."""
        if limit <= 0:
            return ()
        async with self._db.session() as session:
            rows = (
                await session.exec(
                    select(Turn)
                    .where(Turn.conversation == conversation, Turn.customer_id == customer_id)
                    .order_by(col(Turn.id).desc())
                    .limit(limit)
                )
            ).all()
        return tuple(TurnRecord.of(row) for row in reversed(rows))

    async def latest(self, customer_id: int, limit: int) -> list[Turn]:
        """A customer's last ``limit`` turns in any conversation, oldest first (for handoff summaries)."""
        async with self._db.session() as session:
            rows = (
                await session.exec(
                    select(Turn).where(Turn.customer_id == customer_id).order_by(col(Turn.id).desc()).limit(limit)
                )
            ).all()
        return list(reversed(rows))

    async def record(
        self,
        inbound: Inbound,
        turns: Sequence[Turn],
        handoff: Handoff | None,
        answered: bool,
        customer_changes: tuple[int, dict[str, Any]] | None = None,
        reply: Reply | None = None,
        customer_id: int | None = None,
        customer_since: datetime | None = None,
        state: DialogueState | None = None,
        owner: str | None = None,
    ) -> None:
        """Store a turn and its answer, any handoff and profile changes, the reply in the outbox, and
        close the inbox entry, atomically: a turn is never stored without its reply waiting to go out,
        and never run twice. The reply must carry its ``delivery_key``; ``state`` (the conversation's
        dialogue state after this turn) is written in the same transaction.

        With ``owner`` (the process leasing the turn), nothing is stored unless the inbox entry is still
        this owner's running turn: a process that stalled past its lease while another took the turn
        over and finished it must not store the turn a second time (``LeaseLost``)."""
        async with self._db.session() as session:
            if await _forgotten_meanwhile(session, customer_id, customer_since):
                # A /forget of this customer ran while this turn did (in another conversation): the
                # turn's words must not outlive it. The reply still goes out; nothing else is kept.
                turns, handoff, customer_changes, customer_id, state = [], None, None, None, None
            entry = [col(InboxEntry.platform) == inbound.platform,
                     col(InboxEntry.message_id) == message_digest(inbound.platform, inbound.message_id)]
            if owner is not None:
                # The owner alone: only a lease sets it and only finishing clears it. (A /forget running
                # as this very turn has already closed the entry as silent, still under our lease.)
                entry.append(col(InboxEntry.owner) == owner)
            marked = await session.exec(
                update(InboxEntry)
                .where(*entry)
                .values(status=InboxStatus.ANSWERED if answered else InboxStatus.SILENT, finished_at=utcnow(), payload=None,
                        owner="", lease_until=None)
            )
            # First, before anything is added: the inbox mark proves the turn is still ours.
            if owner is not None and marked.rowcount != 1:
                await session.rollback()
                raise LeaseLost(inbound.message_id)
            session.add_all(list(turns))
            if reply is not None:
                session.add(new_entry(reply, customer_id))
            if handoff is not None:
                session.add(handoff)
            if state is not None and customer_id is not None:
                await save_state(session, customer_id, state)
            if customer_changes and customer_changes[1]:
                customer_id, changes = customer_changes
                await session.exec(update(Customer).where(col(Customer.id) == customer_id).values(**changes))  # type: ignore[call-overload]
            await session.commit()

    async def open_handoff(self, conversation: ConversationKey, customer_id: int) -> HandoffRecord | None:
        """The handoff a person holds for this customer in this conversation (pending or claimed), if any.

        By customer too: in a shared channel or thread, one customer's handoff must neither silence
        another customer nor forward their words to that handoff's agent."""
        async with self._db.session() as session:
            row = (
                await session.exec(
                    select(Handoff).where(
                        Handoff.conversation == str(conversation), Handoff.customer_id == customer_id,
                        col(Handoff.status).in_(OPEN_HANDOFF)
                    )
                )
            ).first()
        return HandoffRecord.of(row) if row is not None else None
