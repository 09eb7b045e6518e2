"""Semantic memory: what each customer said, searchable by meaning, never across customers.

Writes leave the turn's path: ``remember`` queues the vector and a background task
upserts queued vectors in batches (one Chroma write costs ~10 ms; a batch of fifty,
little more). The SQL turn stays the durable record; ``rapport ingest --reindex``
rebuilds memories from it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass
from datetime import datetime

import numpy as np

from bot.store.vectors import VectorCollection

MEMORIES = "memories"
log = logging.getLogger("rapport.memory")


@dataclass(frozen=True, slots=True)
class Memory:
    text: str
    conversation: str
    at: str
    similarity: float


@dataclass(frozen=True, slots=True)
class _Pending:
    memory_id: str
    customer_id: int
    text: str
    embedding: np.ndarray
    conversation: str
    at: datetime


class CustomerMemory:
    def __init__(self, collection: VectorCollection, max_batch: int = 256) -> None:
        self._collection = collection
        self._queue: asyncio.Queue[_Pending] = asyncio.Queue()
        self._max_batch = max_batch
        self._writer: asyncio.Task[None] | None = None

    def remember(
        self, customer_id: int, memory_id: str, text: str, embedding: np.ndarray, conversation: str, at: datetime
    ) -> None:
        """Queue one memory for writing; ``flush`` waits until every queued memory is stored."""
        if self._writer is None or self._writer.done():
            self._writer = asyncio.get_running_loop().create_task(self._write_forever(), name="memory-writer")
        self._queue.put_nowait(_Pending(memory_id, customer_id, text, embedding, conversation, at))

    async def _write_forever(self) -> None:
        while True:
            batch = [await self._queue.get()]
            while len(batch) < self._max_batch and not self._queue.empty():
                batch.append(self._queue.get_nowait())
            try:
                await self._collection.upsert(
                    ids=[p.memory_id for p in batch],
                    embeddings=np.stack([p.embedding for p in batch]),
                    documents=[p.text for p in batch],
                    metadatas=[
                        {"customer_id": p.customer_id, "conversation": p.conversation, "at": p.at.isoformat()}
                        for p in batch
                    ],
                )
            except Exception:
                # The turns are safe in SQL; a reindex restores these vectors.
                log.exception("could not store %d memories", len(batch))
            finally:
                for _ in batch:
                    self._queue.task_done()

    async def flush(self) -> None:
        await self._queue.join()

    async def close(self) -> None:
        await self.flush()
        if self._writer is not None:
            self._writer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._writer

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
        await self.flush()
        await self._collection.delete(where={"customer_id": customer_id})
