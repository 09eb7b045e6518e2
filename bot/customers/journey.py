"""A customer's journey across platforms: every touchpoint in time order."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlmodel import col, func, select

from bot.store.database import Database
from bot.store.statuses import TurnRole
from bot.store.tables import FeedbackRecord, Handoff, Identity, IdentityLink, Order, Ticket, Turn, as_utc


@dataclass(frozen=True, slots=True)
class Touchpoint:
    at: datetime
    kind: str  # conversation | order | shipment | ticket | feedback | handoff | link | identity
    channel: str
    detail: str


async def timeline(database: Database, customer_id: int) -> list[Touchpoint]:
    points: list[Touchpoint] = []
    async with database.session() as session:
        conversations = (
            await session.exec(
                select(Turn.conversation, Turn.platform, func.min(Turn.created_at), func.count())
                .where(Turn.customer_id == customer_id, Turn.role == TurnRole.CUSTOMER)
                .group_by(Turn.conversation, Turn.platform)
            )
        ).all()
        for _conversation, platform, started, count in conversations:
            points.append(Touchpoint(as_utc(started), "conversation", platform, f"{count} message(s)"))
        for order in (await session.exec(select(Order).where(Order.customer_id == customer_id))).all():
            points.append(Touchpoint(as_utc(order.ordered_at), "order", "shop",
                                     f"order {order.order_id}, ${order.total:,.2f}, now {order.status}"))
            if order.shipped_at:
                points.append(Touchpoint(as_utc(order.shipped_at), "shipment", "shop",
                                         f"order {order.order_id} shipped" + (f", tracking {order.tracking}" if order.tracking else "")))
        for ticket in (await session.exec(select(Ticket).where(Ticket.customer_id == customer_id))).all():
            state = "resolved" if ticket.resolution else "open"
            points.append(Touchpoint(as_utc(ticket.created_at), "ticket", "helpdesk", f"{ticket.ticket_id} {ticket.subject} ({state})"))
        for feedback in (await session.exec(select(FeedbackRecord).where(FeedbackRecord.customer_id == customer_id))).all():
            points.append(Touchpoint(as_utc(feedback.created_at), "feedback", feedback.platform,
                                     f"{feedback.kind} {feedback.value}".strip()))
        for handoff in (await session.exec(select(Handoff).where(Handoff.customer_id == customer_id))).all():
            points.append(Touchpoint(as_utc(handoff.created_at), "handoff", handoff.conversation.split(":", 1)[0],
                                     f"{handoff.status}: {handoff.reason}"))
        for link in (await session.exec(select(IdentityLink).where(IdentityLink.customer_id == customer_id))).all():
            points.append(Touchpoint(as_utc(link.created_at), "link", link.platform, f"verified by {link.method}"))
        for identity in (
            await session.exec(select(Identity).where(Identity.customer_id == customer_id).order_by(col(Identity.id)))
        ).all():
            points.append(Touchpoint(as_utc(identity.created_at), "identity", identity.platform,
                                     f"first seen as {identity.display_name or identity.platform_user_id}"))
    return sorted(points, key=lambda p: p.at)
