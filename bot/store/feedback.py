"""Feedback on replies (👍/👎, suggestion clicks, CSAT), each counted once."""

from __future__ import annotations

from sqlalchemy.exc import IntegrityError
from sqlmodel import select

from bot.store.database import Database
from bot.store.tables import FeedbackRecord, Identity
from bot.types import Feedback


class FeedbackLog:
    def __init__(self, database: Database) -> None:
        self._db = database

    async def record(self, feedback: Feedback) -> int | None:
        """Store one piece of feedback; the customer's id, or None for a redelivery or an unknown account."""
        async with self._db.session() as session:
            customer_id = (
                await session.exec(
                    select(Identity.customer_id).where(
                        Identity.platform == feedback.platform,
                        Identity.workspace == feedback.conversation.workspace,
                        Identity.platform_user_id == feedback.user_id,
                    )
                )
            ).first()
            if customer_id is None:
                return None  # nobody we have talked to: a stray click cannot create a customer
            session.add(
                FeedbackRecord(
                    customer_id=customer_id,
                    conversation=str(feedback.conversation),
                    in_reply_to=feedback.in_reply_to,
                    kind=feedback.kind.value,
                    value=feedback.value,
                    platform=feedback.platform,
                    feedback_id=f"{feedback.platform}:{feedback.feedback_id}" if feedback.feedback_id else None,
                )
            )
            try:
                await session.commit()
            except IntegrityError:
                return None
        return customer_id
