"""Vector collections in PostgreSQL with pgvector, in the ``DATABASE_URL`` database (``stores.vectors: pgvector``).

Each collection is a table of its own (``id``, ``customer_id``, ``embedding vector(d)``, ``document``,
``metadata jsonb``) with an HNSW index for cosine distance and a b-tree on ``customer_id``; a registry
table names each collection's table and the embedder that built it. The vector store creates them
itself when a collection is first opened (``CREATE EXTENSION IF NOT EXISTS vector``, ``CREATE TABLE IF
NOT EXISTS``) under an advisory lock, so two processes starting at once do not race; they are not
Alembic migrations because their number and dimension follow the config (memory shards, embedder).

Filtered queries (a customer's memories, the catalog's products) rank inside the filter: the matching
rows are selected first and ranked exactly, so a customer with three far memories gets those three,
whatever fifty near ones of others hold. Unfiltered queries (knowledge pages) use the HNSW index.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

import numpy as np
from pgvector import Vector
from pgvector.sqlalchemy import VECTOR
from sqlalchemy import BigInteger, Column, Index, MetaData, Table, Text, delete, func, literal, select, text, update
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.errors import EmbedderMismatchError, StoreError
from bot.store.database import Database
from bot.store.pgvector_filters import customer_column_value, where_clause
from bot.store.vectors import Metadata, VectorCollection, VectorHit, VectorStore, Where

REGISTRY = "rapport_vector_collections"
# Every process creating tables takes this transaction-level lock first (any fixed 64-bit key).
DDL_LOCK_KEY = 0x7261707076656300
# HNSW returns at most ef_search candidates: at least pgvector's default 40, else twice the rows asked for.
EF_SEARCH_MIN, EF_SEARCH_MAX = 40, 1000
_BACK = "or set stores.vectors (VECTOR_STORE) back to chroma"
_FIX = f"use a PostgreSQL with the pgvector extension (Heroku Postgres has it) in DATABASE_URL, {_BACK}"


def table_name(collection: str) -> str:
    """A valid, unique SQL table name for a collection name ("memories-32-007" -> rapport_vec_memories_32_007_<hash>)."""
    slug = re.sub(r"[^a-z0-9]+", "_", collection.lower()).strip("_")[:36]
    return f"rapport_vec_{slug}_{hashlib.sha256(collection.encode()).hexdigest()[:8]}"


def _collection_table(name: str, dimension: int) -> Table:
    table = Table(
        name, MetaData(),
        Column("id", Text, primary_key=True),
        Column("customer_id", BigInteger, nullable=True),
        Column("embedding", VECTOR(dimension), nullable=False),
        Column("document", Text, nullable=True),
        Column("metadata", JSONB, nullable=False),
    )
    Index(f"{name}_customer", table.c.customer_id)
    Index(f"{name}_hnsw", table.c.embedding, postgresql_using="hnsw",
          postgresql_ops={"embedding": "vector_cosine_ops"})
    return table


_registry = Table(
    REGISTRY, MetaData(),
    Column("name", Text, primary_key=True),
    Column("table_name", Text, nullable=False, unique=True),
    Column("embedder", Text, nullable=False),
    Column("dimension", BigInteger, nullable=False),
)


def _floats(embedding: np.ndarray) -> np.ndarray:
    return np.asarray(embedding, dtype=np.float32).reshape(-1)


class PgVectorCollection(VectorCollection):
    """One collection: one table. Every call is one transaction on the shared engine."""

    def __init__(self, engine: AsyncEngine, name: str, table: Table) -> None:
        self._engine = engine
        # Reads of one statement need no transaction: autocommit saves BEGIN and ROLLBACK, two of a read's
        # four round trips (same pool, same connections).
        self._reads = engine.execution_options(isolation_level="AUTOCOMMIT")
        self.name = name
        self.table = table

    async def upsert(self, ids: Sequence[str], embeddings: np.ndarray, documents: Sequence[str] | None,
                     metadatas: Sequence[Metadata]) -> None:
        if len(ids) == 0:
            return
        vectors = np.asarray(embeddings, dtype=np.float32)
        # The last write of an id wins, as in Chroma; one INSERT may not touch a row twice.
        last = {i: n for n, i in enumerate(ids)}
        order = sorted(last.values())
        # One statement for the whole batch (arrays unnested server-side): a round trip per row costs
        # ~5 ms, which a reindex of 100,000 memories would feel.
        parameters = {
            "ids": [ids[n] for n in order],
            "customers": [customer_column_value(dict(metadatas[n])) for n in order],
            "embeddings": [Vector._to_db(vectors[n]) for n in order],
            "documents": [documents[n] if documents is not None else None for n in order],
            "metadatas": [json.dumps(dict(metadatas[n])) for n in order],
        }
        async with self._engine.begin() as connection:
            await connection.execute(text(
                f'INSERT INTO "{self.table.name}" (id, customer_id, embedding, document, metadata) '
                "SELECT u.id, u.customer_id, u.embedding::vector, u.document, u.metadata::jsonb "
                "FROM unnest(CAST(:ids AS text[]), CAST(:customers AS bigint[]), CAST(:embeddings AS text[]), "
                "CAST(:documents AS text[]), CAST(:metadatas AS text[])) AS u(id, customer_id, embedding, document, metadata) "
                "ON CONFLICT (id) DO UPDATE SET customer_id = excluded.customer_id, embedding = excluded.embedding, "
                "document = excluded.document, metadata = excluded.metadata"), parameters)

    async def query(self, embedding: np.ndarray, limit: int, where: Where | None = None) -> list[VectorHit]:
        if limit <= 0:
            return []
        distance = self.table.c.embedding.cosine_distance(_floats(embedding))
        if where:
            # Filter first, then rank exactly: MATERIALIZED keeps the planner from walking the HNSW index
            # and dropping non-matching rows afterwards (which finds too few for a rare customer).
            matching = (select(self.table).where(where_clause(self.table, where)).cte("matching")
                        .prefix_with("MATERIALIZED"))
            ranked = matching.c.embedding.cosine_distance(_floats(embedding))
            statement = (select(matching.c.id, matching.c.document, matching.c.metadata, ranked.label("distance"))
                         .order_by(ranked).limit(limit))
        else:
            statement = (select(self.table.c.id, self.table.c.document, self.table.c.metadata,
                                distance.label("distance")).order_by(distance).limit(limit))
        if where:
            async with self._reads.connect() as connection:
                rows = (await connection.execute(statement)).all()
        else:  # only the unfiltered query walks the HNSW index: widen its search for this transaction
            async with self._engine.begin() as connection:
                ef_search = min(EF_SEARCH_MAX, max(EF_SEARCH_MIN, 2 * limit))
                await connection.execute(select(func.set_config("hnsw.ef_search", str(ef_search), True)))
                rows = (await connection.execute(statement)).all()
        return [VectorHit(id=i, document=d or "", metadata=dict(m or {}), similarity=1.0 - float(dist))
                for i, d, m, dist in rows]

    async def metadatas(self, where: Where | None = None) -> dict[str, dict[str, Any]]:
        statement = select(self.table.c.id, self.table.c.metadata).where(where_clause(self.table, where))
        async with self._reads.connect() as connection:
            return {i: dict(m) for i, m in (await connection.execute(statement)).all()}

    async def reassign(self, where: Where, changes: dict[str, Any]) -> int:
        values: dict[str, Any] = {"metadata": self.table.c.metadata.op("||")(literal(changes, JSONB))}
        if "customer_id" in changes:
            values["customer_id"] = customer_column_value(changes)
        statement = update(self.table).where(where_clause(self.table, where)).values(**values)
        async with self._engine.begin() as connection:
            return int((await connection.execute(statement)).rowcount)

    async def vectors(self, where: Where) -> list[tuple[str, np.ndarray, str, dict[str, Any]]]:
        statement = select(self.table.c.id, self.table.c.embedding, self.table.c.document, self.table.c.metadata)
        async with self._reads.connect() as connection:
            rows = (await connection.execute(statement.where(where_clause(self.table, where)))).all()
        return [(i, np.asarray(e, dtype=np.float32), d or "", dict(m)) for i, e, d, m in rows]

    async def documents(self, where: Where | None = None) -> list[tuple[str, str, dict[str, Any]]]:
        statement = select(self.table.c.id, self.table.c.document, self.table.c.metadata)
        async with self._reads.connect() as connection:
            rows = (await connection.execute(statement.where(where_clause(self.table, where)))).all()
        return [(i, d or "", dict(m)) for i, d, m in rows]

    async def delete(self, ids: Sequence[str] | None = None, where: Where | None = None) -> None:
        if ids is not None and len(ids) == 0:
            return
        if ids is None and not where:
            raise ValueError("delete needs ids or a where filter")  # as Chroma: never "delete everything" by omission
        statement = delete(self.table).where(where_clause(self.table, where))
        if ids is not None:
            statement = statement.where(self.table.c.id.in_(list(ids)))
        async with self._engine.begin() as connection:
            await connection.execute(statement)

    async def count(self) -> int:
        async with self._reads.connect() as connection:
            return int((await connection.execute(select(func.count()).select_from(self.table))).scalar_one())


class PgVectorStore(VectorStore):
    """Collections as tables in the application's PostgreSQL database, on its engine."""

    def __init__(self, database: Database, embedder_name: str, dimension: int) -> None:
        self._db = database
        self.embedder_name = embedder_name
        self.dimension = dimension
        self._open: dict[str, PgVectorCollection] = {}

    @classmethod
    def open(cls, database: Database | None, embedder_name: str, dimension: int) -> PgVectorStore:  # type: ignore[override]
        if database is None or database.is_sqlite:
            raise StoreError("stores.vectors is pgvector, but the database is SQLite: pgvector needs PostgreSQL",
                             fix=f"set DATABASE_URL (stores.database_url) to a PostgreSQL with pgvector, {_BACK}")
        return cls(database, embedder_name, dimension)

    @asynccontextmanager
    async def _ddl(self) -> AsyncIterator[AsyncConnection]:
        """A transaction holding the DDL lock, with the extension and the registry in place."""
        try:
            async with self._db.engine.begin() as connection:
                await connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": DDL_LOCK_KEY})
                await connection.execute(text("CREATE EXTENSION IF NOT EXISTS vector"))
                await connection.run_sync(_registry.create, checkfirst=True)
                yield connection
        except DBAPIError as exc:
            if "vector" in str(exc.orig) and ("extension" in str(exc.orig) or "type" in str(exc.orig)):
                raise StoreError(f"the database has no usable pgvector extension ({type(exc.orig).__name__})",
                                 fix=_FIX) from exc
            raise

    async def collection(self, name: str) -> VectorCollection:
        if name in self._open:
            return self._open[name]
        async with self._ddl() as connection:
            row = (await connection.execute(select(_registry).where(_registry.c.name == name))).first()
            if row is None:
                table = _collection_table(table_name(name), self.dimension)
                await connection.run_sync(table.create, checkfirst=True)
                await connection.execute(_registry.insert().values(
                    name=name, table_name=table.name, embedder=self.embedder_name, dimension=self.dimension))
            elif row.embedder != self.embedder_name or row.dimension != self.dimension:
                raise EmbedderMismatchError(
                    f"vector collection '{name}' was built by embedder '{row.embedder}', but this config uses "
                    f"'{self.embedder_name}'; its vectors cannot be compared",
                    fix=f"run `rapport ingest --reindex` to rebuild it with '{self.embedder_name}', "
                    "or set models.embedder back to match",
                )
            else:
                table = _collection_table(row.table_name, self.dimension)
        self._open[name] = PgVectorCollection(self._db.engine, name, table)
        return self._open[name]

    async def _registered(self, connection: AsyncConnection) -> list[tuple[str, str]]:
        exists = (await connection.execute(text("SELECT to_regclass(:t) IS NOT NULL"), {"t": REGISTRY})).scalar_one()
        if not exists:
            return []
        return [(n, t) for n, t in (await connection.execute(select(_registry.c.name, _registry.c.table_name))).all()]

    async def names(self) -> list[str]:
        async with self._db.engine.connect() as connection:
            return [name for name, _ in await self._registered(connection)]

    async def drop(self, name: str) -> None:
        self._open.pop(name, None)
        async with self._ddl() as connection:
            for registered, table in await self._registered(connection):
                if registered == name:
                    await connection.execute(text(f'DROP TABLE IF EXISTS "{table}"'))  # a name we made: [a-z0-9_]
                    await connection.execute(_registry.delete().where(_registry.c.name == name))

    async def forget_within(self, session: AsyncSession, customer_id: int) -> bool:
        """Delete the customer's vectors from every collection in the caller's transaction (same engine only)."""
        if session.bind is not self._db.engine:
            return False
        connection = await session.connection()
        for _, table in await self._registered(connection):
            await connection.execute(text(f'DELETE FROM "{table}" WHERE customer_id = :customer'),
                                     {"customer": customer_id})
        return True
