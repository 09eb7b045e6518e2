"""Answer votes in SQL: one row per customer and knowledge section (a later vote replaces it)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sqlalchemy import func
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, delete, select

from bot.learning.scorer import SectionKey, Vote
from bot.store.database import Database
from bot.store.records import TurnRecord
from bot.store.statuses import TurnRole
from bot.store.tables import AnswerVote, Turn, as_utc, utcnow


@dataclass(frozen=True, slots=True)
class CastVote:
    """What a vote is about, beyond the scorer's view of it: for audit and for the agents' reports."""

    customer_id: int
    section: SectionKey
    title: str
    polarity: int
    question: np.ndarray
    conversation: str = ""
    in_reply_to: str = ""


def _vote(row: AnswerVote) -> Vote:
    return Vote(row.customer_id, (row.source, row.chunk), row.polarity,
                np.frombuffer(row.question, dtype=np.float32).copy(), as_utc(row.updated_at))


class VoteStore:
    def __init__(self, database: Database) -> None:
        self._db = database

    async def answered(self, customer_id: int, message_id: str) -> list[TurnRecord]:
        return await answered_turns(self._db, customer_id, message_id)

    async def cast(self, cast: CastVote) -> Vote:
        """Store the vote, replacing this customer's earlier one on the section; the vote as stored."""
        blob = np.asarray(cast.question, dtype=np.float32).tobytes()
        for _ in range(2):  # a concurrent first vote on the same section: the retry updates it
            async with self._db.session() as session:
                row = (await session.exec(select(AnswerVote).where(
                    AnswerVote.customer_id == cast.customer_id, AnswerVote.source == cast.section[0],
                    AnswerVote.chunk == cast.section[1]))).first()
                if row is None:
                    row = AnswerVote(customer_id=cast.customer_id, source=cast.section[0], chunk=cast.section[1],
                                     polarity=cast.polarity, question=blob)
                row.section, row.polarity, row.question = cast.title[:300], cast.polarity, blob
                row.conversation, row.in_reply_to, row.updated_at = cast.conversation[:600], cast.in_reply_to[:200], utcnow()
                session.add(row)
                try:
                    await session.commit()
                except IntegrityError:
                    continue
                await session.refresh(row)
                return _vote(row)
        raise RuntimeError("could not store the vote")

    async def all(self) -> list[Vote]:
        async with self._db.session() as session:
            return [_vote(row) for row in (await session.exec(select(AnswerVote))).all()]

    async def version(self) -> tuple[int, int, str]:
        """Changes whenever a vote is cast, replaced or deleted (/forget): count, last id, last update."""
        async with self._db.session() as session:
            count, last_id, last = (await session.exec(
                select(func.count(), func.max(AnswerVote.id), func.max(AnswerVote.updated_at)))).one()
        return int(count or 0), int(last_id or 0), str(last or "")

    async def forget(self, customer_id: int) -> None:
        async with self._db.session() as session:
            await session.exec(delete(AnswerVote).where(col(AnswerVote.customer_id) == customer_id))  # type: ignore[call-overload]
            await session.commit()


async def answered_turns(database: Database, customer_id: int, message_id: str) -> list[TurnRecord]:
    """The customer's message ``message_id`` and the bot's reply to it (the next bot turn in that
    conversation), oldest first; empty when either is not stored."""
    async with database.session() as session:
        asked = (await session.exec(select(Turn).where(
            Turn.customer_id == customer_id, Turn.message_id == message_id,
            Turn.role == TurnRole.CUSTOMER).order_by(col(Turn.id).desc()))).first()
        if asked is None:
            return []
        reply = (await session.exec(select(Turn).where(
            Turn.conversation == asked.conversation, Turn.customer_id == customer_id, Turn.role == TurnRole.BOT,
            col(Turn.id) > asked.id).order_by(col(Turn.id)))).first()
    return [TurnRecord.of(asked), TurnRecord.of(reply)] if reply is not None else []
