"""Export everything stored about a customer, or forget them everywhere (SQL and every vector collection).

Forgetting leaves no byte of the customer behind, in the stores' own files too:

- the vector store never holds customer text or platform ids (see ``bot.store.memory``), so its
  write-ahead queue and free pages have nothing to keep;
- SQLite keeps deleted rows in free pages and in its WAL: the delete runs with ``secure_delete``
  (freed content is zeroed), then the WAL is checkpointed and truncated and the file vacuumed;
- a tombstone committed with the delete makes memories still in flight (another conversation of the
  same customer, another process) drop themselves instead of landing after the delete.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlmodel import SQLModel, col, delete, select

from bot.store.database import Database
from bot.store.inbox import scrub_customer
from bot.store.review import forget_review_items
from bot.store.memory import CustomerMemory
from bot.store.tables import (
    AnswerVote,
    Customer,
    FeedbackRecord,
    ForgetRequest,
    ForgottenCustomer,
    Handoff,
    Identity,
    IdentityLink,
    LinkCode,
    LinkCodeOrigin,
    Order,
    OrderLine,
    OutboxEntry,
    ProductEvent,
    StreamPlaceholder,
    Ticket,
    Turn,
    as_utc,
    utcnow,
)
from bot.store.vectors import VectorStore

# Every table holding a customer's rows, children before parents.
CUSTOMER_TABLES: tuple[type[SQLModel], ...] = (
    Turn, FeedbackRecord, Handoff, ProductEvent, Ticket, LinkCode, IdentityLink, ForgetRequest, Identity,
)
log = logging.getLogger("rapport.privacy")


def _plain(row: SQLModel) -> dict[str, Any]:
    data = row.model_dump()
    return {k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in data.items()}


class PrivacyDesk:
    def __init__(self, database: Database, vectors: VectorStore, memory: CustomerMemory) -> None:
        self._db = database
        self._vectors = vectors
        self._memory = memory

    async def export(self, customer_id: int) -> dict[str, Any]:
        """Everything stored about one customer, as plain JSON-ready data (memories with their texts)."""
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
        # Filtered inside the store and read back from SQL: the vector store holds no text.
        data["memories"] = await self._memory.export(customer_id)
        return data

    async def request_forget(self, customer_id: int) -> None:
        """Record that this customer was warned and asked to confirm (replacing an earlier request)."""
        for _ in range(2):  # two conversations asking at once: the second insert finds the first's row
            async with self._db.session() as session:
                request = await session.get(ForgetRequest, customer_id)
                if request is None:
                    session.add(ForgetRequest(customer_id=customer_id))
                else:
                    request.requested_at = utcnow()
                    session.add(request)
                try:
                    await session.commit()
                    return
                except IntegrityError:
                    await session.rollback()

    async def forget_requested(self, customer_id: int, window: timedelta) -> bool:
        """Whether this customer asked to be forgotten within ``window``, in any of their conversations."""
        async with self._db.session() as session:
            request = await session.get(ForgetRequest, customer_id)
        return request is not None and utcnow() - as_utc(request.requested_at) <= window

    async def forget(self, customer_id: int) -> None:
        """Delete the customer from SQL (inbox and outbox scrubbed in the same commit) and from every
        vector collection, then wipe what the SQLite files still hold of the deleted rows."""
        async with self._db.session() as session:
            if self._db.is_sqlite:
                # Zero the deleted rows' bytes in the pages this transaction frees or rewrites.
                await (await session.connection()).exec_driver_sql("PRAGMA secure_delete = ON")
            # The tombstone commits with the delete, before any vector is deleted: a memory writer that
            # checks after its write (see CustomerMemory) cannot miss it.
            tombstone = await session.get(ForgottenCustomer, customer_id)
            if tombstone is None:
                session.add(ForgottenCustomer(customer_id=customer_id))
            else:
                tombstone.forgotten_at = utcnow()
                session.add(tombstone)
            # Vectors in this same database (pgvector) go in this transaction: all of the customer or none.
            vectors_deleted = await self._vectors.forget_within(session, customer_id)
            order_ids = (await session.exec(select(Order.id).where(Order.customer_id == customer_id))).all()
            if order_ids:
                await session.exec(delete(OrderLine).where(col(OrderLine.order_pk).in_(order_ids)))  # type: ignore[call-overload]
            await session.exec(delete(Order).where(col(Order.customer_id) == customer_id))  # type: ignore[call-overload]
            codes = select(LinkCode.id).where(LinkCode.customer_id == customer_id)
            await session.exec(delete(LinkCodeOrigin).where(col(LinkCodeOrigin.link_code_id).in_(codes)))  # type: ignore[call-overload]
            # Explicit deletes rather than trusting ON DELETE CASCADE, which SQLite only honours with a pragma.
            for table in CUSTOMER_TABLES:
                await session.exec(delete(table).where(table.customer_id == customer_id))  # type: ignore[attr-defined, call-overload]
            # A streamed reply's placeholder (a platform message id) goes with the reply it was for.
            replies = select(OutboxEntry.key).where(col(OutboxEntry.customer_id) == customer_id)
            await session.exec(delete(StreamPlaceholder).where(col(StreamPlaceholder.key).in_(replies)))  # type: ignore[call-overload]
            await scrub_customer(session, customer_id)  # outbox rows (and what they map a reaction to) too
            # Answer votes hold a vector of the customer's words (their question).
            await session.exec(delete(AnswerVote).where(col(AnswerVote.customer_id) == customer_id))  # type: ignore[call-overload]
            # Candidates from their handoffs go; an approved one keeps only what the admin approved.
            await forget_review_items(session, customer_id)
            await session.exec(delete(Customer).where(col(Customer.id) == customer_id))  # type: ignore[call-overload]
            await session.commit()
        if vectors_deleted:
            # Memories queued before the commit find the tombstone and drop themselves (or delete what they wrote).
            await self._memory.flush()
        else:
            await self._memory.forget(customer_id)
            for name in await self._vectors.names():
                collection = await self._vectors.collection(name)
                await collection.delete(where={"customer_id": customer_id})
        await self._wipe_sqlite_files()
        log.info("customer forgotten", extra={"customer_id": customer_id})

    async def _wipe_sqlite_files(self) -> None:
        """Deleted rows live on in SQLite's WAL and free pages: checkpoint and truncate the WAL, then
        rebuild the file without free pages (VACUUM, which runs outside a transaction and itself goes
        through the WAL, hence the second checkpoint). PostgreSQL keeps nothing in our data dir."""
        if not self._db.is_sqlite:
            return
        async with self._db.engine.connect() as connection:
            autocommit = await connection.execution_options(isolation_level="AUTOCOMMIT")
            await autocommit.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
            await autocommit.exec_driver_sql("VACUUM")
            busy, _, _ = (await autocommit.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")).one()
        if busy:
            # Another connection was reading; its next checkpoint overwrites the frames. Say so, ids only.
            log.warning("WAL not fully truncated after a forget; the next checkpoint will overwrite it")
