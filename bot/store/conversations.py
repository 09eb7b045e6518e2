"""Turns and handoffs of conversations."""

from __future__ import annotations

from collections.abc import Sequence

from sqlmodel import col, select

from bot.store.database import Database
from bot.store.tables import Handoff, Turn
from bot.types import ConversationKey


class ConversationLog:
    def __init__(self, database: Database) -> None:
        self._db = database

    async def recent(self, conversation: ConversationKey, customer_id: int, limit: int) -> list[Turn]:
        """The last ``limit`` turns of this conversation with this customer, oldest first."""
        if limit <= 0:
            return []
        async with self._db.session() as session:
            rows = (
                await session.exec(
                    select(Turn)
                    .where(Turn.conversation == str(conversation), Turn.customer_id == customer_id)
                    .order_by(col(Turn.id).desc())
                    .limit(limit)
                )
            ).all()
        return list(reversed(rows))

    async def record(self, turns: Sequence[Turn], handoff: Handoff | None = None) -> None:
        """Store a customer turn and the bot's answer (and any handoff) in one transaction."""
        async with self._db.session() as session:
            session.add_all(list(turns))
            if handoff is not None:
                session.add(handoff)
            await session.commit()

    async def open_handoff(self, conversation: ConversationKey) -> Handoff | None:
        async with self._db.session() as session:
            return (
                await session.exec(
                    select(Handoff).where(
                        Handoff.conversation == str(conversation), col(Handoff.status).in_(["pending", "human"])
                    )
                )
            ).first()
