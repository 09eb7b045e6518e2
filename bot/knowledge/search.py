"""Search the ingested knowledge and catalog with an embedding the engine already computed."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from bot.store.vectors import VectorCollection


@dataclass(frozen=True, slots=True)
class KnowledgeHit:
    source: str
    title: str
    section: str
    text: str
    similarity: float


@dataclass(frozen=True, slots=True)
class ProductHit:
    sku: str
    name: str
    category: str
    price: float
    stock: int
    description: str
    tags: tuple[str, ...]
    similarity: float


class KnowledgeBase:
    def __init__(self, pages: VectorCollection, catalog: VectorCollection) -> None:
        self.pages = pages
        self.catalog = catalog

    async def search(self, embedding: np.ndarray, limit: int = 3, include_internal: bool = False) -> list[KnowledgeHit]:
        # Internal pages are filtered inside the store query, so they can never be ranked in.
        where = None if include_internal else {"internal": False}
        # Every section has two vectors (question alone, question + answer): fetch enough for
        # `limit` distinct sections and keep each section's best score.
        best: dict[tuple[str, int], KnowledgeHit] = {}
        for h in await self.pages.query(embedding, limit * 2, where):
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

    async def products(self, embedding: np.ndarray, limit: int = 5, in_stock_only: bool = False) -> list[ProductHit]:
        where = {"stock": {"$gt": 0}} if in_stock_only else None
        hits = await self.catalog.query(embedding, limit, where)
        return [
            ProductHit(
                sku=str(h.metadata["sku"]),
                name=str(h.metadata["name"]),
                category=str(h.metadata.get("category", "")),
                price=float(h.metadata.get("price", 0.0)),
                stock=int(h.metadata.get("stock", 0)),
                description=h.document,
                tags=tuple(t for t in str(h.metadata.get("tags", "")).split(";") if t),
                similarity=h.similarity,
            )
            for h in hits
        ]

    async def is_empty(self) -> bool:
        return await self.pages.count() == 0 and await self.catalog.count() == 0
