"""Search the ingested knowledge and catalog with an embedding the engine already computed."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from collections.abc import Sequence
from typing import Any

from bot.store.vectors import Metadata, VectorCollection


@dataclass(frozen=True, slots=True)
class KnowledgeHit:
    source: str
    title: str
    section: str
    text: str
    similarity: float


class PageCollections:
    """Customer-facing and internal-only page sections, kept in two collections.

    Internal pages live apart, so a customer's query cannot rank them in at all, and no
    metadata filter is needed: a filtered Chroma query scans the metadata of every
    collection in the store (28 ms beside 100,000 memories, against 1.3 ms unfiltered).
    Ingest sees one collection: writes are routed by each section's ``internal`` flag.
    """

    def __init__(self, public: VectorCollection, internal: VectorCollection) -> None:
        self.public = public
        self.internal = internal

    async def upsert(self, ids: Sequence[str], embeddings: np.ndarray, documents: Sequence[str],
                     metadatas: Sequence[Metadata]) -> None:
        for target, wanted in ((self.internal, True), (self.public, False)):
            rows = [i for i, m in enumerate(metadatas) if bool(m.get("internal")) is wanted]
            if rows:
                await target.upsert([ids[i] for i in rows], np.asarray(embeddings)[rows],
                                    [documents[i] for i in rows], [metadatas[i] for i in rows])

    async def metadatas(self, where: dict[str, Any] | None = None) -> dict[str, dict[str, Any]]:
        return {**await self.public.metadatas(where), **await self.internal.metadatas(where)}

    async def delete(self, ids: Sequence[str] | None = None, where: dict[str, Any] | None = None) -> None:
        await self.public.delete(ids=ids, where=where)
        await self.internal.delete(ids=ids, where=where)

    async def count(self) -> int:
        return await self.public.count() + await self.internal.count()


class KnowledgeBase:
    def __init__(self, pages: PageCollections, catalog: VectorCollection) -> None:
        self.pages = pages
        self.catalog = catalog

    async def search(self, embedding: np.ndarray, limit: int = 3, include_internal: bool = False) -> list[KnowledgeHit]:
        # Every section has two vectors (question alone, question + answer): fetch enough for
        # `limit` distinct sections and keep each section's best score.
        hits = await self.pages.public.query(embedding, limit * 2)
        if include_internal:
            hits = sorted(hits + await self.pages.internal.query(embedding, limit * 2), key=lambda h: -h.similarity)
        best: dict[tuple[str, int], KnowledgeHit] = {}
        for h in hits:
            key = (str(h.metadata.get("source", "")), int(h.metadata.get("chunk", 0)))
            if key not in best:
                best[key] = KnowledgeHit(
                    source=key[0],
                    title=str(h.metadata.get("title", "")),
                    section=str(h.metadata.get("section", "")),
                    text=h.document,
                    similarity=h.similarity,
                )
        return list(best.values())[:limit]

    async def is_empty(self) -> bool:
        return await self.pages.count() == 0 and await self.catalog.count() == 0
