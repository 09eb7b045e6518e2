"""What we know about a customer, derived from their data and kept current: computed when asked."""

from __future__ import annotations

import asyncio
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlmodel import col, func, select

from bot.config import Journey
from bot.customers.preferences import Fact, facts_of
from bot.knowledge.catalog_index import CatalogIndex
from bot.store.database import Database
from bot.store.statuses import TurnRole
from bot.store.records import CustomerRecord
from bot.store.tables import Order, OrderLine, ProductEvent, Ticket, Turn, as_utc, utcnow

OPEN_STATUSES = {"processing", "shipped"}
COUNTED_STATUSES = {"processing", "shipped", "delivered"}  # cancelled and returned orders are not value


@dataclass(frozen=True, slots=True)
class OrderItem:
    sku: str
    name: str
    quantity: int


@dataclass(frozen=True, slots=True)
class OrderSummary:
    order_id: str
    status: str
    ordered_at: datetime
    shipped_at: datetime | None
    tracking: str
    total: float
    items: tuple[OrderItem, ...]

    @property
    def item_names(self) -> str:
        return ", ".join(i.name if i.quantity == 1 else f"{i.quantity} × {i.name}" for i in self.items)


@dataclass(frozen=True, slots=True)
class Insights:
    customer_id: int
    stage: str
    order_count: int
    lifetime_value: float
    favourite_categories: tuple[str, ...]
    recent_orders: tuple[OrderSummary, ...]  # newest first
    owned_skus: frozenset[str]
    last_contact: datetime | None
    last_channel: str
    open_tickets: tuple[str, ...]  # subjects
    recurring_issue: str
    preferences: dict[str, str] = field(default_factory=dict)
    browsing: tuple[str, ...] = ()  # categories viewed most, most first
    # Every order of this customer, newest first: an order number is looked up here and nowhere else.
    orders: tuple[OrderSummary, ...] = ()
    facts: tuple[Fact, ...] = ()  # what the customer told us about themselves, with when

    @property
    def open_orders(self) -> tuple[OrderSummary, ...]:
        return tuple(o for o in self.recent_orders if o.status in OPEN_STATUSES)

    @property
    def known(self) -> bool:
        """Whether there is history to personalise with."""
        return bool(self.order_count or self.last_contact or self.open_tickets)

    def lines(self) -> list[str]:
        """Human-readable facts, for `rapport customer show` and the composer's context."""
        facts = [f"journey stage: {self.stage}", f"orders: {self.order_count}, lifetime value ${self.lifetime_value:,.2f}"]
        if self.favourite_categories:
            facts.append("favourite categories: " + ", ".join(self.favourite_categories))
        for order in self.recent_orders[:3]:
            facts.append(f"order {order.order_id} ({order.ordered_at:%Y-%m-%d}): {order.status} — {order.item_names}")
        if self.last_contact:
            facts.append(f"last contact: {self.last_contact:%Y-%m-%d} on {self.last_channel}")
        if self.open_tickets:
            facts.append("open issues: " + "; ".join(self.open_tickets))
        if self.recurring_issue:
            facts.append(f"recurring issue: {self.recurring_issue}")
        for fact in self.facts:
            said = f" (said {fact.said_at:%Y-%m-%d})" if fact.said_at else ""
            facts.append(f"told us — {fact.label}: {fact.value}{said}")
        if self.browsing:
            facts.append("recently browsing: " + ", ".join(self.browsing))
        return facts


def journey_stage(order_dates: list[datetime], now: datetime, rules: Journey) -> str:
    """new → first_purchase → active → at_risk → lapsed, from the dates of counted orders."""
    if not order_dates:
        return "new"
    quiet = now - max(order_dates)
    if quiet > timedelta(days=rules.lapsed_after_days):
        return "lapsed"
    if quiet > timedelta(days=rules.at_risk_after_days):
        return "at_risk"
    return "active" if len(order_dates) >= rules.active_min_orders else "first_purchase"


class InsightBuilder:
    def __init__(self, database: Database, catalog: CatalogIndex, rules: Journey) -> None:
        self._db = database
        self.catalog = catalog
        self._rules = rules

    async def build(self, customer: CustomerRecord, exclude_conversation: str = "") -> Insights:
        assert customer.id is not None
        orders, contact, tickets, browsing = await asyncio.gather(
            self._orders(customer.id),
            self._last_contact(customer.id, exclude_conversation),
            self._tickets(customer.id),
            self._browsing(customer.id),
        )
        counted = [o for o in orders if o.status in COUNTED_STATUSES]
        categories = Counter(
            self.catalog.category(i.sku) for o in counted for i in o.items if self.catalog.category(i.sku)
        )
        open_tickets = tuple(t.subject for t in tickets if not t.resolution)
        subjects = Counter(_topic(t.subject) for t in tickets if utcnow() - as_utc(t.created_at) < timedelta(days=180))
        recurring = next((topic for topic, n in subjects.most_common(1) if n >= 2 and topic), "")
        return Insights(
            customer_id=customer.id,
            stage=journey_stage([o.ordered_at for o in counted], utcnow(), self._rules),
            order_count=len(counted),
            lifetime_value=round(sum(o.total for o in counted), 2),
            favourite_categories=tuple(c for c, _ in categories.most_common(3)),
            recent_orders=tuple(orders[:5]),
            owned_skus=frozenset(i.sku for o in counted for i in o.items),
            last_contact=contact[0] if contact else None,
            last_channel=contact[1] if contact else "",
            open_tickets=open_tickets,
            recurring_issue=recurring,
            preferences={k: f.value for k, f in facts_of(customer.preferences).items()},
            browsing=browsing,
            orders=tuple(orders),
            facts=tuple(sorted(facts_of(customer.preferences).values(), key=lambda f: f.key)),
        )

    async def _orders(self, customer_id: int) -> list[OrderSummary]:
        async with self._db.session() as session:
            orders = (
                await session.exec(select(Order).where(Order.customer_id == customer_id).order_by(col(Order.ordered_at).desc()))
            ).all()
            lines = (
                await session.exec(select(OrderLine).where(col(OrderLine.order_pk).in_([o.id for o in orders])))
            ).all() if orders else []
        by_order: dict[int, list[OrderItem]] = {}
        for line in lines:
            by_order.setdefault(line.order_pk, []).append(OrderItem(line.sku, self.catalog.name(line.sku), line.quantity))
        return [
            OrderSummary(o.order_id, o.status, as_utc(o.ordered_at), as_utc(o.shipped_at) if o.shipped_at else None,
                         o.tracking, o.total, tuple(by_order.get(o.id or 0, [])))
            for o in orders
        ]

    async def _last_contact(self, customer_id: int, exclude_conversation: str) -> tuple[datetime, str] | None:
        async with self._db.session() as session:
            row = (
                await session.exec(
                    select(Turn.created_at, Turn.platform)
                    .where(Turn.customer_id == customer_id, Turn.role == TurnRole.CUSTOMER,
                           Turn.conversation != exclude_conversation)
                    .order_by(col(Turn.id).desc())
                    .limit(1)
                )
            ).first()
        return (as_utc(row[0]), row[1]) if row else None

    async def _tickets(self, customer_id: int) -> list[Ticket]:
        async with self._db.session() as session:
            return list(
                (await session.exec(select(Ticket).where(Ticket.customer_id == customer_id).order_by(col(Ticket.created_at).desc()))).all()
            )

    async def _browsing(self, customer_id: int) -> tuple[str, ...]:
        async with self._db.session() as session:
            rows = (
                await session.exec(
                    select(ProductEvent.target, func.count())
                    .where(ProductEvent.customer_id == customer_id, col(ProductEvent.type).in_(["view", "cart", "wishlist"]))
                    .group_by(ProductEvent.target)
                )
            ).all()
        categories: Counter[str] = Counter()
        for target, count in rows:
            category = self.catalog.category(target) or (target.rsplit("/", 1)[-1] if target.startswith("/c/") else "")
            if category:
                categories[category] += count
        return tuple(c for c, _ in categories.most_common(3))


def _topic(subject: str) -> str:
    """A coarse topic for spotting recurring issues: the subject's most telling word."""
    words = [w.strip(".,!?:;").lower() for w in subject.split()]
    keys = ("damaged", "late", "missing", "refund", "return", "warranty", "password", "charged", "broken", "address", "delivery")
    return next((w for w in words if w in keys), "")
