"""The vector-store interface: collections of vectors with metadata, searched by cosine inside a filter.

Two implementations sit behind it, chosen by ``stores.vectors``:

- ``chroma`` (default): embedded Chroma in the data directory (``bot.store.chroma_vectors``, the
  ``chromadb`` package), or the Chroma server at ``stores.chroma_url`` over its REST API with httpx
  (``bot.store.chroma_http``: a server-mode process never imports ``chromadb``);
- ``pgvector``: tables in the ``DATABASE_URL`` PostgreSQL with the pgvector extension
  (``bot.store.pgvector_store``), so a forget can delete vectors in the transaction that deletes
  the customer's rows.

Rapport always computes embeddings itself and passes them in; every write and query here takes
vectors. ``where`` filters are Chroma's metadata filters: ``{"customer_id": 7}`` (equality),
``{"field": {"$eq" | "$ne" | "$in" | "$nin": ...}}``, ``{"$and": [...]}``, ``{"$or": [...]}``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

if TYPE_CHECKING:
    from sqlmodel.ext.asyncio.session import AsyncSession

    from bot.store.database import Database

Metadata = Mapping[str, str | int | float | bool]
Where = dict[str, Any]
Backend = Literal["chroma", "pgvector"]


@dataclass(frozen=True, slots=True)
class VectorHit:
    id: str
    document: str
    metadata: dict[str, Any]
    similarity: float  # cosine similarity in [-1, 1]


class VectorCollection(ABC):
    """One named collection, async, built by exactly one embedder."""

    name: str

    @abstractmethod
    async def upsert(self, ids: Sequence[str], embeddings: np.ndarray, documents: Sequence[str] | None,
                     metadatas: Sequence[Metadata]) -> None:
        """Write vectors. ``documents=None`` stores none: customer memories keep their text in SQL only."""

    @abstractmethod
    async def query(self, embedding: np.ndarray, limit: int, where: Where | None = None) -> list[VectorHit]:
        """The ``limit`` nearest neighbours of ``embedding``; ``where`` is applied inside the store, before ranking."""

    @abstractmethod
    async def metadatas(self, where: Where | None = None) -> dict[str, dict[str, Any]]:
        """Id -> metadata of every vector matching ``where`` (all without it)."""

    @abstractmethod
    async def reassign(self, where: Where, changes: dict[str, Any]) -> int:
        """Change metadata fields on every vector matching ``where``; returns how many changed."""

    @abstractmethod
    async def vectors(self, where: Where) -> list[tuple[str, np.ndarray, str, dict[str, Any]]]:
        """(id, embedding, document, metadata) of every vector matching ``where``."""

    @abstractmethod
    async def documents(self, where: Where | None = None) -> list[tuple[str, str, dict[str, Any]]]:
        """(id, document, metadata) of every vector matching ``where`` (all of them without it: audits)."""

    @abstractmethod
    async def delete(self, ids: Sequence[str] | None = None, where: Where | None = None) -> None:
        """Delete the vectors with these ids and/or matching ``where``; an empty ``ids`` deletes nothing."""

    @abstractmethod
    async def count(self) -> int: ...


class VectorStore(ABC):
    """Opens collections and refuses any that another embedder built."""

    embedder_name: str
    dimension: int

    @staticmethod
    def open(chroma_url: str, data_dir: Path, embedder_name: str, dimension: int, *,
             backend: Backend = "chroma", database: Database | None = None) -> VectorStore:
        """The configured store: Chroma (embedded, or the server at ``chroma_url``), or pgvector in ``database``.

        Implementations are imported here, so a process only loads the client it uses: the server's is
        httpx, the embedded one ``chromadb`` (~0.7-2 s of imports).
        """
        if backend == "pgvector":
            from bot.store.pgvector_store import PgVectorStore

            return PgVectorStore.open(database, embedder_name, dimension)
        if chroma_url:
            from bot.store.chroma_http import ChromaHttpStore

            return ChromaHttpStore.open(chroma_url, embedder_name, dimension)
        from bot.store.chroma_vectors import ChromaStore

        return ChromaStore.open(data_dir, embedder_name, dimension)

    @abstractmethod
    async def collection(self, name: str) -> VectorCollection: ...

    @abstractmethod
    async def names(self) -> list[str]: ...

    @abstractmethod
    async def drop(self, name: str) -> None: ...

    async def forget_within(self, session: AsyncSession, customer_id: int) -> bool:
        """Delete every vector of this customer inside the caller's open SQL transaction, when the vectors
        live in that database; returns whether it did. A store elsewhere (Chroma) returns False and the
        caller deletes after its commit."""
        del session, customer_id
        return False

    async def close(self) -> None:
        """Release what the store opened itself (a shared database engine is its owner's to close)."""
        return None
