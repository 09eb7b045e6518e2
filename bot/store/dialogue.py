"""Dialogue state: what each conversation is about, kept next to its turns so follow-ups
("how much was it?", "can I return it?") resolve against it, across restarts too."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from bot.store.database import Database
from bot.store.tables import DialogueStateRow, utcnow


@dataclass(frozen=True, slots=True)
class DialogueState:
    """A frozen record of one conversation's state; stages and handlers never see the SQL row."""

    conversation: str = ""
    order_id: str = ""  # the order under discussion (always one of this customer's)
    product_sku: str = ""
    topic: str = ""  # the knowledge section last answered or discussed
    topic_source: str = ""
    last_action: str = ""
    misses: int = 0  # turns in a row the bot could not help with, since the bot last took over
    negatives: int = 0  # unhappy customer messages in a row, in the same stretch

    def but(self, **changes: Any) -> DialogueState:
        return replace(self, **changes)


_FIELDS = ("order_id", "product_sku", "topic", "topic_source", "last_action", "misses", "negatives")


class DialogueStore:
    def __init__(self, database: Database) -> None:
        self._db = database

    async def load(self, conversation: str, customer_id: int) -> DialogueState:
        """The state of ``conversation`` for this customer, or a fresh one (another customer's state
        in a shared scope is never handed over)."""
        async with self._db.session() as session:
            row = await session.get(DialogueStateRow, conversation)
        if row is None or row.customer_id != customer_id:
            return DialogueState(conversation)
        return DialogueState(conversation, **{f: getattr(row, f) for f in _FIELDS})


async def save_state(session: Any, customer_id: int, state: DialogueState) -> None:
    """Write ``state`` in the caller's transaction (the turn's), replacing the conversation's row."""
    row = await session.get(DialogueStateRow, state.conversation)
    if row is None:
        row = DialogueStateRow(conversation=state.conversation, customer_id=customer_id)
    row.customer_id = customer_id
    for f in _FIELDS:
        setattr(row, f, getattr(state, f))
    row.updated_at = utcnow()
    session.add(row)
