"""Semantic memory: what each customer said, searchable by meaning, never across customers."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import numpy as np

from bot.store.vectors import VectorCollection

MEMORIES = "memories"


@dataclass(frozen=True, slots=True)
class Memory:
    text: str
    conversation: str
    at: str
    similarity: float


class CustomerMemory:
    def __init__(self, collection: VectorCollection) -> None:
        self._collection = collection

    async def remember(
        self, customer_id: int, memory_id: str, text: str, embedding: np.ndarray, conversation: str, at: datetime
    ) -> None:
        await self._collection.upsert(
            ids=[memory_id],
            embeddings=embedding.reshape(1, -1),
            documents=[text],
            metadatas=[{"customer_id": customer_id, "conversation": conversation, "at": at.isoformat()}],
        )

    async def recall(self, customer_id: int, embedding: np.ndarray, limit: int) -> list[Memory]:
        """The ``limit`` memories of this customer nearest to ``embedding``.

        The customer filter runs inside the vector store's query, so another customer's
        memory is never a candidate, not even one that is dropped afterwards.
        """
        hits = await self._collection.query(embedding, limit, where={"customer_id": customer_id})
        return [
            Memory(h.document, str(h.metadata.get("conversation", "")), str(h.metadata.get("at", "")), h.similarity)
            for h in hits
        ]

    async def forget(self, customer_id: int) -> None:
        await self._collection.delete(where={"customer_id": customer_id})
