"""The review queue in SQL: agents' answers from resolved handoffs, and the questions nobody answered.

Rows stay here: callers get frozen ``ReviewRecord``s and ``AskedTurn``s. Every status change is one
conditional UPDATE (pending → approved | rejected), so two admins deciding at once cannot both win.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlmodel import col, delete, select, update

from bot.store.database import Database
from bot.store.statuses import ReviewStatus, TurnRole
from bot.store.tables import Handoff, ReviewItem, Turn, as_utc, utcnow

__all__ = ["AskedTurn", "ReviewQueue", "ReviewRecord", "ReviewStatus", "forget_review_items"]

# A question asked this long before the handoff opened still belongs to it (the misses that led there).
LEAD_IN = timedelta(hours=1)


@dataclass(frozen=True, slots=True)
class ReviewRecord:
    id: int
    handoff_id: int
    customer_id: int | None
    conversation: str
    status: ReviewStatus
    asked: str  # the customer's words ("" once they were forgotten)
    question: str
    answer: str
    agent: str
    created_at: datetime
    decided_at: datetime | None

    @classmethod
    def of(cls, row: ReviewItem) -> ReviewRecord:
        assert row.id is not None
        return cls(row.id, row.handoff_id, row.customer_id, row.conversation, ReviewStatus(row.status), row.asked,
                   row.question, row.answer, row.agent, as_utc(row.created_at),
                   as_utc(row.decided_at) if row.decided_at else None)


@dataclass(frozen=True, slots=True)
class AskedTurn:
    """A customer's message and what the bot did with it (the handler's name)."""

    text: str
    action: str
    platform: str
    at: datetime


@dataclass(frozen=True, slots=True)
class HandoffTalk:
    """What was said around one handoff: the customer's messages from shortly before it opened, and the
    agents' replies while it was open, oldest first."""

    customer: tuple[AskedTurn, ...]
    agent: tuple[str, ...]


class ReviewQueue:
    def __init__(self, database: Database) -> None:
        self._db = database

    async def talk(self, handoff: Handoff | Any) -> HandoffTalk:
        """The customer's turns since their previous handoff ended (at most ``LEAD_IN`` before this one
        opened) and the agents' relayed replies in this handoff's conversation."""
        opened = as_utc(handoff.created_at)
        async with self._db.session() as session:
            previous = (await session.exec(
                select(Handoff.updated_at).where(Handoff.customer_id == handoff.customer_id, Handoff.id != handoff.id,
                                                 Handoff.created_at <= opened).order_by(col(Handoff.created_at).desc())
            )).first()
            since = max(opened - LEAD_IN, as_utc(previous)) if previous else opened - LEAD_IN
            customer = (await session.exec(
                select(Turn).where(Turn.customer_id == handoff.customer_id, Turn.role == TurnRole.CUSTOMER,
                                   Turn.created_at >= since).order_by(col(Turn.id))
            )).all()
            agent = (await session.exec(
                select(Turn.text).where(Turn.customer_id == handoff.customer_id, Turn.role == TurnRole.AGENT,
                                        Turn.conversation == handoff.conversation, Turn.created_at >= opened)
                .order_by(col(Turn.id))
            )).all()
        return HandoffTalk(tuple(AskedTurn(t.text, t.action, t.platform, as_utc(t.created_at)) for t in customer),
                           tuple(agent))

    async def add(self, handoff: Handoff | Any, asked: str, question: str, answer: str) -> ReviewRecord | None:
        """A pending candidate for this handoff; None if it already has one (a repeated resolve)."""
        row = ReviewItem(handoff_id=handoff.id, customer_id=handoff.customer_id, conversation=handoff.conversation,
                         asked=asked, question=question[:300], answer=answer, agent=handoff.agent)
        async with self._db.session() as session:
            session.add(row)
            try:
                await session.commit()
            except IntegrityError:  # the unique handoff id: this handoff was collected already
                await session.rollback()
                return None
            await session.refresh(row)
        return ReviewRecord.of(row)

    async def get(self, item_id: int) -> ReviewRecord | None:
        async with self._db.session() as session:
            row = await session.get(ReviewItem, item_id)
        return ReviewRecord.of(row) if row is not None else None

    async def items(self, status: ReviewStatus | None = None, limit: int = 200) -> list[ReviewRecord]:
        """Newest first; all statuses without ``status``."""
        query = select(ReviewItem).order_by(col(ReviewItem.id).desc()).limit(limit)
        if status is not None:
            query = query.where(ReviewItem.status == status)
        async with self._db.session() as session:
            return [ReviewRecord.of(r) for r in (await session.exec(query)).all()]

    async def decide(self, item_id: int, status: ReviewStatus, question: str | None = None,
                     answer: str | None = None) -> bool:
        """pending → ``status``, with the approved wording; False if it was no longer pending."""
        changes: dict[str, Any] = {"status": status, "decided_at": utcnow()}
        if question is not None:
            changes["question"] = question[:300]
        if answer is not None:
            changes["answer"] = answer
        async with self._db.session() as session:
            result = await session.exec(
                update(ReviewItem).where(col(ReviewItem.id) == item_id,  # type: ignore[call-overload]
                                         col(ReviewItem.status) == ReviewStatus.PENDING).values(**changes))
            await session.commit()
        return result.rowcount == 1

    async def unanswered(self, actions: tuple[str, ...], since: datetime | None = None,
                         limit: int = 2000) -> list[AskedTurn]:
        """Customers' messages the bot had no answer for (their turn's action is one of ``actions``), newest
        first; a handoff turn counts only when the bot could not help (rule ``unresolved_repeats``)."""
        query = (select(Turn).where(Turn.role == TurnRole.CUSTOMER, col(Turn.action).in_([*actions, "handoff"]))
                 .order_by(col(Turn.id).desc()).limit(limit))
        if since is not None:
            query = query.where(Turn.created_at >= since)
        async with self._db.session() as session:
            turns = (await session.exec(query)).all()
            handed = [t for t in turns if t.action == "handoff"]
            unresolved: set[tuple[int, str]] = set()
            if handed:
                unresolved = {(c, k) for c, k in (await session.exec(
                    select(Handoff.customer_id, Handoff.conversation).where(Handoff.rule == "unresolved_repeats",
                                                                           col(Handoff.customer_id).in_({t.customer_id for t in handed}))
                )).all()}
        return [AskedTurn(t.text, t.action, t.platform, as_utc(t.created_at)) for t in turns
                if t.action != "handoff" or (t.customer_id, t.conversation) in unresolved]


async def forget_review_items(session: Any, customer_id: int) -> None:
    """In a /forget's transaction: delete this customer's pending and rejected candidates (their words), and
    keep an approved one as the admin approved it, without the customer's words, conversation or id."""
    await session.exec(delete(ReviewItem).where(col(ReviewItem.customer_id) == customer_id,  # type: ignore[call-overload]
                                                col(ReviewItem.status) != ReviewStatus.APPROVED))
    await session.exec(update(ReviewItem).where(col(ReviewItem.customer_id) == customer_id)  # type: ignore[call-overload]
                       .values(customer_id=None, asked="", conversation=""))
