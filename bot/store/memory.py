"""Semantic memory: what each customer said, searchable by meaning, never across customers.

Writes leave the turn's path: ``remember`` queues the vector and a background task
upserts queued vectors in batches (one Chroma write costs ~10 ms; a batch of fifty,
little more). The SQL turn stays the durable record; ``rapport ingest --reindex``
rebuilds memories from it.

The vector store holds no customer text and no platform id: a vector's id is an opaque key
of its SQL row (``turn-<row id>``, ``ticket-<digest>``), it has no document, and its metadata
is the customer id, the time, a mention count and a digest of the conversation. Chroma keeps
what it was given in its own files (its write-ahead queue, free pages) long after a delete,
so what it is never given cannot outlive a /forget. Texts are read from SQL, this customer's
rows only, when a memory is recalled or exported.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache

import numpy as np
import Stemmer
from sqlalchemy import String, cast, literal, union_all
from sqlmodel import col, select

from bot.knowledge.lexical import STOPWORDS, words
from bot.store.database import Database
from bot.store.tables import ForgottenCustomer, Ticket, Turn, as_utc, utcnow
from bot.store.vectors import VectorCollection

MEMORIES = "memories"  # collection names: memories-<shards>-<shard>
COMPACT_EVERY = 50  # writes per customer between checks of their memory count
DUPLICATE_SIMILARITY = 0.95  # cosine; "where is my order?" twice is one memory mentioned twice
DUPLICATE_CANDIDATES = 3  # near-duplicates looked at per write, nearest first
_TURN, _TICKET = "turn", "ticket"
# Hybrid recall: dense candidates fetched per memory asked for; weight of the BM25 bonus, and
# how many turns said just before a memory (same conversation, within that many seconds) lend
# it their words. Chosen on half of bench/sets/memory_dev.jsonl (scripts/tune_memory_recall.py).
DENSE_POOL_FACTOR, DENSE_POOL_MIN = 4, 20
LEXICAL_WEIGHT = 0.05
CONTEXT_TURNS, CONTEXT_SECONDS = 2, 300
log = logging.getLogger("rapport.memory")


@dataclass(frozen=True, slots=True)
class Memory:
    text: str
    conversation: str  # an opaque digest of the conversation it was said in
    at: str
    similarity: float
    mentions: int = 1
    source: str = ""  # the vector id, naming its SQL row (``turn-<row id>``); opaque outside this module


def turn_source(turn_id: int) -> str:
    """The source key of a customer turn stored in SQL with this row id."""
    return f"{_TURN}:{turn_id}"


def ticket_source(ticket_id: str) -> str:
    """The source key of a helpdesk ticket (its ``ticket_id``)."""
    return f"{_TICKET}:{ticket_id}"


def vector_id(source: str) -> str:
    """The id a memory is stored under: names its SQL row, says nothing about the customer.

    A turn's row id is already opaque; a ticket's helpdesk id is hashed. Anything else is a
    programming error (e.g. the old ``turn:<platform>:<message id>`` form, which embedded platform ids).
    """
    kind, _, ref = source.partition(":")
    if kind == _TURN and ref.isdigit():
        return f"{_TURN}-{ref}"
    if kind == _TICKET and ref:
        return f"{_TICKET}-{_digest(ref)}"
    raise ValueError(f"not a memory source key: {source!r} (use turn_source(row id) or ticket_source(ticket id))")


def conversation_digest(conversation: str) -> str:
    """Memories are grouped by conversation without naming it: its key holds channel and chat ids."""
    return _digest(conversation)


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:32]


@dataclass(frozen=True, slots=True, eq=False)  # compared by identity: it holds an array
class _Pending:
    vector_id: str
    customer_id: int
    embedding: np.ndarray
    conversation: str  # digest
    at: datetime
    # The customer record this memory belongs to existed since then: a tombstone written later
    # means that record was forgotten (SQLite may hand its id to a newer customer afterwards).
    since: datetime
    words: frozenset[str] = frozenset()  # stemmed keywords of the text, never stored


def shard_names(shards: int) -> list[str]:
    return [f"{MEMORIES}-{shards}-{i:03d}" for i in range(shards)]


class CustomerMemory:
    """Memories sharded by customer over several collections.

    A filtered Chroma query costs time in proportion to its collection's size (95 ms at
    100,000 vectors, 2.5 ms at 1,600 on our CI machine), so each customer's memories live
    in the shard ``customer_id % shards`` and a recall searches that shard only — still
    with the customer filter inside the query.

    ``database`` holds the texts (turns and tickets) and the tombstones of forgotten customers.
    Without it (a test of the importer alone) memories are written but recalled without text.
    """

    def __init__(
        self,
        shards: list[VectorCollection] | VectorCollection,
        database: Database | None = None,
        max_batch: int = 256,
        max_per_customer: int = 1000,
    ) -> None:
        self._shards = shards if isinstance(shards, list) else [shards]
        self._db = database
        self._cap = max_per_customer
        self._writes: dict[int, int] = {}
        self._queue: asyncio.Queue[_Pending] = asyncio.Queue()
        self._max_batch = max_batch
        self._writer: asyncio.Task[None] | None = None

    def remember(
        self,
        customer_id: int,
        source: str,
        text: str,
        embedding: np.ndarray,
        conversation: str,
        at: datetime,
        customer_since: datetime | None = None,
    ) -> None:
        """Queue one memory for writing; ``flush`` waits until every queued memory is stored.

        ``source`` names the SQL row holding the text (:func:`turn_source`, :func:`ticket_source`);
        ``text`` itself is not stored anywhere here. ``customer_since`` is when the customer record
        was created (unknown: now), so a memory of a record forgotten meanwhile is dropped.
        """
        # The store never sees the text; only its stemmed words are held, in this process, until
        # the write has decided whether this memory may replace a near-duplicate (see _carries).
        if self._writer is None or self._writer.done():
            self._writer = asyncio.get_running_loop().create_task(self._write_forever(), name="memory-writer")
        since = as_utc(customer_since) if customer_since else utcnow()
        self._queue.put_nowait(
            _Pending(vector_id(source), customer_id, embedding, conversation_digest(conversation), at, since,
                     frozenset(keywords(text)))
        )

    def shard(self, customer_id: int) -> VectorCollection:
        return self._shards[customer_id % len(self._shards)]

    async def _write_forever(self) -> None:
        while True:
            batch = [await self._queue.get()]
            while len(batch) < self._max_batch and not self._queue.empty():
                batch.append(self._queue.get_nowait())
            taken = len(batch)  # the merge below may shrink the batch; the queue counts what was taken
            try:
                await self._write(batch)
            except Exception:
                # The turns are safe in SQL; a reindex restores these vectors.
                log.exception("could not store %d memories", len(batch))
            finally:
                for _ in range(taken):
                    self._queue.task_done()

    async def _write(self, batch: list[_Pending]) -> None:
        batch[:] = [p for p in batch if p not in await self._forgotten(batch)]
        if not batch:
            return
        ids, counts, replaced = await self._merge_near_duplicates(batch)
        by_shard: dict[int, list[int]] = {}
        for index, pending in enumerate(batch):
            by_shard.setdefault(pending.customer_id % len(self._shards), []).append(index)
        for shard, indexes in by_shard.items():
            await self._shards[shard].upsert(
                ids=[ids[i] for i in indexes],
                embeddings=np.stack([batch[i].embedding for i in indexes]),
                documents=None,
                metadatas=[
                    {"customer_id": batch[i].customer_id, "conversation": batch[i].conversation,
                     "at": batch[i].at.isoformat(), "mentions": counts[i]}
                    for i in indexes
                ],
            )
        for shard, old_id in replaced:
            await self._shards[shard].delete(ids=[old_id])
        # Checked again after the write: a forget that ran while this batch was being written has
        # deleted before these vectors landed, so they are removed here (the forget committed its
        # tombstone before deleting vectors, hence this check cannot miss it).
        late = await self._forgotten(batch)
        for index, pending in enumerate(batch):
            if pending in late:
                await self.shard(pending.customer_id).delete(ids=[ids[index]])
        for customer_id in {p.customer_id for p in batch if p not in late}:
            self._writes[customer_id] = self._writes.get(customer_id, 0) + 1
            if self._writes[customer_id] % COMPACT_EVERY == 0:
                await self.compact(customer_id)

    async def _forgotten(self, batch: Sequence[_Pending]) -> list[_Pending]:
        """The pending memories whose customer record was forgotten after it came to be."""
        if self._db is None or not batch:
            return []
        async with self._db.session() as session:
            rows = (
                await session.exec(
                    select(ForgottenCustomer.customer_id, ForgottenCustomer.forgotten_at)
                    .where(col(ForgottenCustomer.customer_id).in_({p.customer_id for p in batch}))
                )
            ).all()
        tombstones = {customer_id: as_utc(at) for customer_id, at in rows}
        return [p for p in batch if p.customer_id in tombstones and tombstones[p.customer_id] >= p.since]

    async def _merge_near_duplicates(
        self, batch: list[_Pending]
    ) -> tuple[list[str], list[int], list[tuple[int, str]]]:
        """Ids to write: a memory nearly identical to one this customer already has replaces it
        (the newest wording's row, the mentions counted on) instead of piling up beside it --
        but only when the new wording carries every word of the old (:meth:`_carries`), so
        "my order 41234 is late" never replaces "my order 41233 is late".
        Returns the ids, mention counts, and the (shard, id) of the vectors replaced."""
        ids, counts, slots = [], [], []
        for pending in batch:
            own = pending.vector_id
            slot, count = own, 1
            if not own.startswith(_TICKET):  # tickets keep their own identity
                hits = await self.shard(pending.customer_id).query(
                    pending.embedding, DUPLICATE_CANDIDATES, where={"customer_id": pending.customer_id}
                )
                # The nearest near-duplicate whose words this one carries (one that differs by an
                # order number is a different memory, however close its vector).
                for hit in hits:
                    if hit.similarity < DUPLICATE_SIMILARITY:
                        break
                    if not hit.id.startswith(_TICKET) and await self._carries(pending, hit.id):
                        slot = hit.id
                        mentions = int(hit.metadata.get("mentions", 1))
                        count = mentions if slot == own else mentions + 1  # the same turn again is no new mention
                        break
            ids.append(own)
            counts.append(count)
            slots.append(slot)
        # Two near-duplicates in one batch resolve to the same slot: the later one is kept, and the
        # earlier one too (under its own id) when it says something the later one does not.
        claimed: dict[str, int] = {}
        for i in range(len(batch)):
            earlier = claimed.get(slots[i])
            if earlier is not None and not batch[earlier].words <= batch[i].words:
                slots[earlier], counts[earlier] = ids[earlier], 1
                claimed[ids[earlier]] = earlier
            claimed[slots[i]] = i
        keep = sorted(set(claimed.values()))
        written = {ids[i] for i in keep}
        replaced = [(batch[i].customer_id % len(self._shards), slots[i]) for i in keep
                    if slots[i] != ids[i] and slots[i] not in written]
        batch[:] = [batch[i] for i in keep]
        return [ids[i] for i in keep], [counts[i] for i in keep], replaced

    async def _carries(self, pending: _Pending, old_id: str) -> bool:
        """Whether ``pending`` may replace the memory ``old_id``: every keyword of the old text
        (read from SQL, this customer's rows only) is in the new one, so no name, number or
        product the old turn carried is lost. Without a database (an importer test) there is
        no text to compare and the embedding decides alone."""
        if self._db is None:
            return True
        old = (await self.texts(pending.customer_id, [old_id])).get(old_id)
        return old is None or set(keywords(old)) <= pending.words

    async def compact(self, customer_id: int) -> int:
        """Keep at most ``max_per_customer`` memories for one customer, dropping the oldest.

        A filtered vector query costs time in proportion to how many vectors match, so an
        unbounded history would make every recall slower. Dropped memories stay in SQL as
        turns (and in exports); only their vectors go.
        """
        shard = self.shard(customer_id)
        found = await shard.metadatas({"customer_id": customer_id})
        extra = len(found) - self._cap
        if extra <= 0:
            return 0
        oldest = sorted(found, key=lambda i: (str(found[i].get("at", "")), int(found[i].get("mentions", 1))))[:extra]
        await shard.delete(ids=oldest)
        return extra

    async def flush(self) -> None:
        await self._queue.join()

    async def close(self) -> None:
        await self.flush()
        if self._writer is not None:
            self._writer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._writer

    async def recall(self, customer_id: int, embedding: np.ndarray, limit: int, text: str = "") -> list[Memory]:
        """The ``limit`` memories of this customer that best match the message, with their texts.

        Without ``text``: the nearest by cosine to ``embedding``. With the message's ``text``:
        the cosine plus ``LEXICAL_WEIGHT`` x the memory's BM25 score for the message's words
        (over this customer's memory texts, read from SQL, each with the words of the turns said
        just before it: :func:`memory_documents`), newer first among equal scores -- names,
        products and order numbers are words an embedding blurs. ``similarity`` stays the cosine; for a memory found by its words
        alone it is the lowest cosine of the dense candidates, an upper bound of its own.

        The customer filter runs inside the vector store's query and the texts are read in SQL
        queries restricted to this customer's rows, so another customer's memory is never a
        candidate. A vector whose row is gone is no memory.
        """
        if limit <= 0:
            return []
        shard = self.shard(customer_id)
        if not text.strip() or self._db is None:
            hits = await shard.query(embedding, limit, where={"customer_id": customer_id})
            texts = await self.texts(customer_id, [h.id for h in hits])
            return [_memory(h.id, texts[h.id], h.metadata, h.similarity) for h in hits if h.id in texts]
        # A deeper dense pool than asked for, so fusion can reorder it.
        hits = await shard.query(embedding, max(limit * DENSE_POOL_FACTOR, DENSE_POOL_MIN), where={"customer_id": customer_id})
        found = await shard.metadatas({"customer_id": customer_id})  # ids and times only: no text in the store
        texts = await self.texts(customer_id, list(found))
        cosine = {h.id: h.similarity for h in hits if h.id in texts}
        floor = min(cosine.values(), default=0.0)
        at = {i: str(found[i].get("at", "")) for i in texts}
        conversations = {i: str(found[i].get("conversation", "")) for i in texts}
        ranked = fuse_scores(cosine, bm25_scores(text, memory_documents(texts, at, conversations)), at, floor)
        return [_memory(i, texts[i], found[i], cosine.get(i, floor)) for i in ranked[:limit]]

    async def texts(self, customer_id: int, ids: Sequence[str]) -> dict[str, str]:
        """Vector id → the text of its SQL row, for this customer's rows only (one query)."""
        refs = [i.removeprefix(f"{_TURN}-") for i in ids if i.startswith(f"{_TURN}-")]
        turn_ids = [int(ref) for ref in refs if ref.isdigit()]
        wants_tickets = any(i.startswith(f"{_TICKET}-") for i in ids)
        if self._db is None or not (turn_ids or wants_tickets):
            return {}
        parts = []
        if turn_ids:
            parts.append(
                select(literal(_TURN), cast(Turn.id, String), Turn.text)
                .where(Turn.customer_id == customer_id, col(Turn.id).in_(turn_ids))
            )
        if wants_tickets:
            # A customer has a handful of tickets; their ids are hashed in the vector store, so match here.
            parts.append(
                select(literal(_TICKET), Ticket.ticket_id, Ticket.subject + ". " + Ticket.body)
                .where(Ticket.customer_id == customer_id)
            )
        query = parts[0] if len(parts) == 1 else union_all(*parts)
        async with self._db.session() as session:
            rows = (await session.exec(query)).all()  # type: ignore[call-overload]
        found = {}
        for kind, ref, text in rows:
            found[f"{_TURN}-{ref}" if kind == _TURN else vector_id(ticket_source(ref))] = text
        return {i: found[i] for i in ids if i in found}

    async def export(self, customer_id: int) -> list[dict[str, object]]:
        """Every memory of this customer with its text (from SQL), including ones still queued."""
        await self.flush()
        shard = self.shard(customer_id)
        found = await shard.metadatas({"customer_id": customer_id})
        texts = await self.texts(customer_id, list(found))
        return [{"id": i, "collection": shard.name, "text": texts.get(i, ""), **meta} for i, meta in found.items()]

    async def forget(self, customer_id: int) -> None:
        """Delete this customer's vectors, after every memory queued so far has been written or dropped."""
        await self.flush()
        await self.shard(customer_id).delete(where={"customer_id": customer_id})

    async def reassign(self, old_customer_id: int, new_customer_id: int) -> int:
        """Move one customer's memories to another (after a verified merge), across shards if need be."""
        await self.flush()
        source, target = self.shard(old_customer_id), self.shard(new_customer_id)
        if source is target:
            return await source.reassign({"customer_id": old_customer_id}, {"customer_id": new_customer_id})
        rows = await source.vectors({"customer_id": old_customer_id})
        if rows:
            await target.upsert(
                ids=[r[0] for r in rows],
                embeddings=np.stack([r[1] for r in rows]),
                documents=None,
                metadatas=[{**r[3], "customer_id": new_customer_id} for r in rows],
            )
            await source.delete(ids=[r[0] for r in rows])
        return len(rows)


def _memory(source: str, text: str, metadata: dict[str, object], similarity: float) -> Memory:
    return Memory(text, str(metadata.get("conversation", "")), str(metadata.get("at", "")), similarity,
                  int(str(metadata.get("mentions", 1))), source)


@lru_cache(maxsize=1)
def _stemmer() -> Stemmer.Stemmer:
    return Stemmer.Stemmer("english")


def keywords(text: str) -> list[str]:
    """Stemmed words without stopwords or chat filler; digits stay (order numbers are words here)."""
    return _stemmer().stemWords([w for w in words(text) if w not in STOPWORDS])


def lexical_coverage(query: str, texts: dict[str, str]) -> dict[str, float]:
    """Memory id -> share of the query's IDF weight found in that memory's words, in (0, 1].

    IDF is over this customer's memories: a word most of their memories share ("order") weighs
    little, a product name or an order number said once weighs a lot. Built per recall: a
    customer has at most ``max_per_customer`` short memories, so tokenizing costs a few
    milliseconds and no index has to follow writes, merges and forgets. Memories sharing no
    query word are left out.
    """
    terms = set(keywords(query))
    if not terms or not texts:
        return {}
    docs = {i: set(keywords(t)) for i, t in texts.items()}
    frequency = Counter(term for words_of in docs.values() for term in terms & words_of)
    idf = {t: math.log(1 + (len(docs) - frequency[t] + 0.5) / (frequency[t] + 0.5)) for t in terms}
    total = sum(idf.values())
    out = {i: sum(idf[t] for t in terms & words_of) / total for i, words_of in docs.items()}
    return {i: share for i, share in out.items() if share > 0}


def memory_documents(texts: dict[str, str], at: dict[str, str], conversations: dict[str, str],
                     before: int = CONTEXT_TURNS, seconds: float = CONTEXT_SECONDS) -> dict[str, Counter[str]]:
    """Memory id -> the keyword counts BM25 matches it by: its own words plus those of the up to
    ``before`` memories said just before it in the same conversation, within ``seconds``.

    A short reply ("sure, in June") says what it is about only with the turn it follows; a
    question about that topic should find the reply too. ``at`` holds ISO times; a memory
    without one lends and borrows no words.
    """
    when = {i: _seconds(at.get(i, "")) for i in texts}
    documents = {i: Counter(keywords(text)) for i, text in texts.items()}
    if before <= 0:
        return documents
    by_conversation: dict[str, list[str]] = {}
    for i in sorted((i for i in texts if when[i] is not None), key=lambda i: (when[i], len(i), i)):
        by_conversation.setdefault(conversations.get(i, ""), []).append(i)
    out = {i: Counter(words_of) for i, words_of in documents.items()}
    for ordered in by_conversation.values():
        for n, i in enumerate(ordered):
            for j in ordered[max(0, n - before):n]:
                if when[i] - when[j] <= seconds:  # type: ignore[operator]
                    out[i].update(documents[j])
    return out


def _seconds(at: str) -> float | None:
    try:
        return datetime.fromisoformat(at.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def bm25_scores(query: str, documents: dict[str, Counter[str]], k1: float = 1.2, b: float = 0.75) -> dict[str, float]:
    """Memory id -> Okapi BM25 of the query's keywords over ``documents``, divided by the best
    score so that it lies in (0, 1]. IDF is over this customer's memories: a word most of them
    share ("order") weighs little, a product name or an order number said once weighs a lot.
    Built per recall (a customer has at most ``max_per_customer`` short memories, so this costs
    a few milliseconds and no index has to follow writes, merges and forgets). Memories sharing
    no query word are left out."""
    terms = set(keywords(query))
    if not terms or not documents:
        return {}
    average = sum(sum(counts.values()) for counts in documents.values()) / len(documents) or 1.0
    frequency = Counter(term for counts in documents.values() for term in terms & counts.keys())
    idf = {t: math.log(1 + (len(documents) - frequency[t] + 0.5) / (frequency[t] + 0.5)) for t in terms}
    scores = {}
    for i, counts in documents.items():
        norm = k1 * (1 - b + b * sum(counts.values()) / average)
        score = sum(idf[t] * counts[t] * (k1 + 1) / (counts[t] + norm) for t in terms & counts.keys())
        if score > 0:
            scores[i] = score
    best = max(scores.values(), default=1.0)
    return {i: score / best for i, score in scores.items()}


def fuse_scores(cosine: dict[str, float], coverage: dict[str, float], at: dict[str, str], floor: float,
                weight: float = LEXICAL_WEIGHT) -> list[str]:
    """Ids by cosine + ``weight`` x lexical score (in [0, 1]), newest first among equal scores.

    Scores, not ranks, are fused: reciprocal-rank fusion gave a weak lexical ranking the same
    say as the dense one and lost to dense-only on the development set's held-out half; a small
    additive bonus lets shared rare words lift a memory without drowning the cosine. A memory outside the
    dense pool is scored from ``floor`` (the pool's lowest cosine, an upper bound of its own).
    """
    fused = {i: cosine.get(i, floor) + weight * coverage.get(i, 0.0) for i in {*cosine, *coverage}}
    newest_first = sorted(fused, key=lambda i: at.get(i, ""), reverse=True)
    return sorted(newest_first, key=lambda i: -round(fused[i], 9))  # stable: ties stay newest first
