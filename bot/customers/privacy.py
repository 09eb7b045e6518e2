"""Export everything stored about a customer, or forget them everywhere (SQL and every vector collection)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlmodel import SQLModel, col, delete, select

from bot.store.database import Database
from bot.store.tables import (
    Customer,
    FeedbackRecord,
    Handoff,
    Identity,
    IdentityLink,
    LinkCode,
    Order,
    OrderLine,
    ProductEvent,
    Ticket,
    Turn,
)
from bot.store.memory import CustomerMemory
from bot.store.vectors import VectorStore

# Every table holding a customer's rows, children before parents.
CUSTOMER_TABLES: tuple[type[SQLModel], ...] = (
    Turn, FeedbackRecord, Handoff, ProductEvent, Ticket, LinkCode, IdentityLink, Identity,
)


def _plain(row: SQLModel) -> dict[str, Any]:
    data = row.model_dump()
    return {k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in data.items()}


class PrivacyDesk:
    def __init__(self, database: Database, vectors: VectorStore, memory: CustomerMemory) -> None:
        self._db = database
        self._vectors = vectors
        self._memory = memory

    async def export(self, customer_id: int) -> dict[str, Any]:
        """Everything stored about one customer, as plain JSON-ready data."""
        await self._memory.flush()  # include what they said a moment ago
        async with self._db.session() as session:
            customer = await session.get(Customer, customer_id)
            if customer is None:
                return {}
            data: dict[str, Any] = {"customer": _plain(customer)}
            for table in CUSTOMER_TABLES:
                rows = (await session.exec(select(table).where(table.customer_id == customer_id))).all()  # type: ignore[attr-defined]
                data[table.__tablename__] = [_plain(r) for r in rows]  # type: ignore[attr-defined]
            orders = (await session.exec(select(Order).where(Order.customer_id == customer_id))).all()
            lines = (await session.exec(select(OrderLine).where(col(OrderLine.order_pk).in_([o.id for o in orders])))).all()
            data["orders"] = [
                {**_plain(o), "lines": [_plain(line) for line in lines if line.order_pk == o.id]} for o in orders
            ]
        data["memories"] = []
        for name in await self._vectors.names():
            collection = await self._vectors.collection(name)
            # Filtered inside the store: reading every memory of every customer to keep one's is not an export.
            for vector_id, document, meta in await collection.documents({"customer_id": customer_id}):
                data["memories"].append({"id": vector_id, "collection": name, "text": document, **meta})
        return data

    async def forget(self, customer_id: int) -> None:
        """Delete the customer from SQL and from every vector collection."""
        await self._memory.flush()  # a memory still queued must not be written after the delete
        async with self._db.session() as session:
            order_ids = (await session.exec(select(Order.id).where(Order.customer_id == customer_id))).all()
            if order_ids:
                await session.exec(delete(OrderLine).where(col(OrderLine.order_pk).in_(order_ids)))  # type: ignore[call-overload]
            await session.exec(delete(Order).where(col(Order.customer_id) == customer_id))  # type: ignore[call-overload]
            # Explicit deletes rather than trusting ON DELETE CASCADE, which SQLite only honours with a pragma.
            for table in CUSTOMER_TABLES:
                await session.exec(delete(table).where(table.customer_id == customer_id))  # type: ignore[attr-defined, call-overload]
            await session.exec(delete(Customer).where(col(Customer.id) == customer_id))  # type: ignore[call-overload]
            await session.commit()
        for name in await self._vectors.names():
            collection = await self._vectors.collection(name)
            await collection.delete(where={"customer_id": customer_id})
