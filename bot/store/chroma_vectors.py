"""Vector collections in Chroma: embedded ``PersistentClient`` by default, ``HttpClient`` by config.

Rapport always computes embeddings itself and passes them in. Chroma's default
embedding function downloads a model, so no collection is ever given one, and
every write and query here requires vectors. The interface is ``bot.store.vectors``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import numpy as np

from bot.errors import EmbedderMismatchError, StoreError, find_outage
from bot.store.vectors import Metadata, VectorCollection, VectorHit, VectorStore

# Chroma 1.5 (server and embedded share its Rust core) can fail a read that races the first flush of a
# collection's HNSW segment: "Error creating hnsw segment reader: Nothing found on disk". Seen on loopback with
# one writer and two readers on a fresh collection (4 of 800 queries); each read succeeded 50 ms later. The
# same race, under two test processes at once, also fails as "Error finding id" (the metadata segment already
# holds an id whose vector the reader's segment has not loaded yet).
_TRANSIENT_READS = ("Error creating hnsw segment reader", "Error finding id")
READ_RETRIES = 4
READ_RETRY_SECONDS = 0.05


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
        return [
            VectorHit(id=i, document=d or "", metadata=dict(m or {}), similarity=1.0 - float(dist))
            for i, d, m, dist in zip(
                result["ids"][0], result["documents"][0], result["metadatas"][0], result["distances"][0], strict=True
            )
        ]

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
    def open(cls, chroma_url: str, data_dir: Path, embedder_name: str, dimension: int) -> ChromaStore:  # type: ignore[override]
        import chromadb
        from chromadb.config import Settings

        settings = Settings(anonymized_telemetry=False)
        if chroma_url:
            parts = urlsplit(chroma_url)
            try:
                client = chromadb.HttpClient(
                    host=parts.hostname or "localhost",
                    port=parts.port or (443 if parts.scheme == "https" else 8000),
                    ssl=parts.scheme == "https",
                    settings=settings,
                )
            except Exception as exc:  # the client asks the server for its tenant at once: a plain ValueError
                outage = find_outage(exc)
                raise StoreError(
                    f"cannot reach the Chroma server at {chroma_url} ({outage.detail})" if outage
                    else f"cannot use the Chroma server at {chroma_url}: {exc}",
                    fix="check stores.chroma_url (CHROMA_URL) and that the Chroma server is running; "
                    "leave it empty for the embedded store",
                ) from exc
        else:
            path = data_dir / "chroma"
            path.mkdir(parents=True, exist_ok=True)
            client = chromadb.PersistentClient(path=str(path), settings=settings)
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
        except Exception as exc:  # chromadb raises plain exceptions for connection problems
            raise StoreError(f"cannot open vector collection '{name}': {exc}",
                             fix="check stores.chroma_url, or leave it empty for the embedded store") from exc
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
