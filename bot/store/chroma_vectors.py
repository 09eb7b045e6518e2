"""Vector collections in embedded Chroma: a ``chromadb.PersistentClient`` in the data directory.

A Chroma server (``stores.chroma_url``) is spoken to by ``bot.store.chroma_http`` instead, over its
REST API, so a server-mode process never imports ``chromadb``. Rapport always computes embeddings
itself and passes them in. Chroma's default embedding function downloads a model, so no collection
is ever given one, and every write and query here requires vectors. The interface is ``bot.store.vectors``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from bot.errors import EmbedderMismatchError, StoreError
# The segment-reader race is in Chroma's Rust core, embedded as on a server: one list of its transient errors.
from bot.store.chroma_http import _TRANSIENT_READS, READ_RETRIES, READ_RETRY_SECONDS, query_hits
from bot.store.vectors import Metadata, VectorCollection, VectorHit, VectorStore



class ChromaCollection(VectorCollection):
    """One Chroma collection, async, built by exactly one embedder."""

    def __init__(self, collection: Any) -> None:
        self._collection = collection
        self.name: str = collection.name

    async def _read(self, method: str, **kwargs: Any) -> Any:
        """``collection.<method>(**kwargs)`` in a thread, tried again (50, 100, 200, 400 ms apart) on the
        transient segment-reader errors only; any other failure is raised at once."""
        for attempt in range(READ_RETRIES + 1):
            try:
                return await asyncio.to_thread(getattr(self._collection, method), **kwargs)
            except Exception as exc:
                if attempt == READ_RETRIES or not any(m in str(exc) for m in _TRANSIENT_READS):
                    raise
                await asyncio.sleep(READ_RETRY_SECONDS * 2**attempt)
        raise AssertionError("unreachable")

    async def upsert(
        self,
        ids: Sequence[str],
        embeddings: np.ndarray,
        documents: Sequence[str] | None,
        metadatas: Sequence[Metadata],
    ) -> None:
        """Write vectors. ``documents=None`` stores none: customer memories keep their text in SQL only,
        because Chroma keeps every document it was given in its files long after a delete."""
        if len(ids) == 0:
            return
        await asyncio.to_thread(
            self._collection.upsert,
            ids=list(ids),
            embeddings=np.asarray(embeddings, dtype=np.float32),
            documents=list(documents) if documents is not None else None,
            metadatas=[dict(m) for m in metadatas],
        )

    async def query(self, embedding: np.ndarray, limit: int, where: dict[str, Any] | None = None) -> list[VectorHit]:
        """Nearest neighbours of ``embedding``; ``where`` is applied inside the store, before ranking."""
        if limit <= 0:
            return []
        result = await self._read(
            "query",
            query_embeddings=np.asarray(embedding, dtype=np.float32).reshape(1, -1),
            n_results=limit,
            where=where or None,
            include=["documents", "metadatas", "distances"],
        )
        return query_hits(result)

    async def metadatas(self, where: dict[str, Any] | None = None) -> dict[str, dict[str, Any]]:
        result = await self._read("get", where=where or None, include=["metadatas"])
        return {i: dict(m or {}) for i, m in zip(result["ids"], result["metadatas"], strict=True)}

    async def reassign(self, where: dict[str, Any], changes: dict[str, Any]) -> int:
        """Change metadata fields on every vector matching ``where``; returns how many changed."""
        found = await self.metadatas(where)
        if found:
            ids = list(found)
            await asyncio.to_thread(
                self._collection.update, ids=ids, metadatas=[{**found[i], **changes} for i in ids]
            )
        return len(found)

    async def vectors(self, where: dict[str, Any]) -> list[tuple[str, np.ndarray, str, dict[str, Any]]]:
        """(id, embedding, document, metadata) of every vector matching ``where``."""
        result = await self._read("get", where=where, include=["embeddings", "documents", "metadatas"])
        return [
            (i, np.asarray(e, dtype=np.float32), d or "", dict(m or {}))
            for i, e, d, m in zip(result["ids"], result["embeddings"], result["documents"], result["metadatas"], strict=True)
        ]

    async def documents(self, where: dict[str, Any] | None = None) -> list[tuple[str, str, dict[str, Any]]]:
        """(id, document, metadata) of every vector matching ``where`` (all of them without it: audits)."""
        result = await self._read("get", where=where or None, include=["documents", "metadatas"])
        return [(i, d or "", dict(m or {})) for i, d, m in zip(result["ids"], result["documents"], result["metadatas"], strict=True)]

    async def delete(self, ids: Sequence[str] | None = None, where: dict[str, Any] | None = None) -> None:
        if ids is not None and len(ids) == 0:
            return
        await asyncio.to_thread(self._collection.delete, ids=list(ids) if ids is not None else None, where=where)

    async def count(self) -> int:
        return int(await self._read("count"))


class ChromaStore(VectorStore):
    """Opens Chroma collections and refuses any that another embedder built."""

    def __init__(self, client: Any, embedder_name: str, dimension: int) -> None:
        self._client = client
        self.embedder_name = embedder_name
        self.dimension = dimension

    @classmethod
    def open(cls, data_dir: Path, embedder_name: str, dimension: int) -> ChromaStore:  # type: ignore[override]
        """The embedded store in ``data_dir/chroma``, made if missing."""
        import chromadb
        from chromadb.config import Settings

        path = data_dir / "chroma"
        path.mkdir(parents=True, exist_ok=True)
        client = chromadb.PersistentClient(path=str(path), settings=Settings(anonymized_telemetry=False))
        return cls(client, embedder_name, dimension)

    async def collection(self, name: str) -> VectorCollection:
        def open_collection() -> Any:
            return self._client.get_or_create_collection(
                name,
                embedding_function=None,
                metadata={"hnsw:space": "cosine", "embedder": self.embedder_name, "dimension": self.dimension},
            )

        try:
            collection = await asyncio.to_thread(open_collection)
        except Exception as exc:  # chromadb raises plain exceptions (a damaged or unwritable store)
            raise StoreError(f"cannot open vector collection '{name}': {exc}",
                             fix="check the data directory's chroma/ folder (permissions, free space)") from exc
        built_by = (collection.metadata or {}).get("embedder")
        if built_by != self.embedder_name:
            raise EmbedderMismatchError(
                f"vector collection '{name}' was built by embedder '{built_by}', but this config uses "
                f"'{self.embedder_name}'; its vectors cannot be compared",
                fix=f"run `rapport ingest --reindex` to rebuild it with '{self.embedder_name}', "
                "or set models.embedder back to match",
            )
        return ChromaCollection(collection)

    async def names(self) -> list[str]:
        collections = await asyncio.to_thread(self._client.list_collections)
        return [c if isinstance(c, str) else c.name for c in collections]

    async def drop(self, name: str) -> None:
        def drop_if_present() -> None:
            if name in {c if isinstance(c, str) else c.name for c in self._client.list_collections()}:
                self._client.delete_collection(name)

        await asyncio.to_thread(drop_if_present)
