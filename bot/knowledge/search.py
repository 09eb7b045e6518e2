"""Search the ingested knowledge and catalog: the engine's query embedding, fused with keywords.

A section's score blends two views of the query. The dense cosine (MiniLM) understands
paraphrase; the lexical view (BM25 on spelling-corrected, stemmed words) sees what the
embedding blurs: typos ("shiping"), and words the knowledge never mentions ("amazon").
The fused score stays on the dense scale, so ``answer_min_similarity`` and
``clarify_min_similarity`` keep their meaning: it is the cosine moved by at most
``LEXICAL_WEIGHT / 2`` up when the section holds every informative word of the query,
and as much down when it holds none. Measured on tests/knowledge/retrieval_questions.csv
by scripts/eval_retrieval.py.
"""

from __future__ import annotations

import asyncio
import re
import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any, Protocol

import numpy as np

from bot.embedder import Embedder, embed_async
from bot.knowledge.lexical import LexicalDocument, LexicalIndex, SectionKey
from bot.knowledge.product_words import ProductWords
from bot.store.vectors import Metadata, VectorCollection, VectorHit

# How far lexical agreement may move the dense score: ±0.1 around the cosine. Chosen on the
# labelled questions (0.1–0.3 rank alike; larger lets keyword overlap answer off-topic questions).
LEXICAL_WEIGHT = 0.2
# Coverage at which the lexical view is neutral: a section holding half the query's IDF weight.
LEXICAL_NEUTRAL = 0.5
# The best section must lead the next one by this much to be answered without asking which
# was meant; below it, two sections answer the question about equally well.
CONFIDENT_MARGIN = 0.03
# Below this best score the question as written found nothing near (config's clarify_min_similarity by
# default): if it names a product, it is read again with the product said as "item", and each section keeps
# its better score.
GENERAL_READING_BELOW = 0.4
# Below this best score (config's answer_min_similarity by default) the question as written found something
# near but no answer: "amazon sells the kettle for less, will you match it" finds the price match at 0.43,
# still held down by "kettle". It is read again as about an "item" too, but that reading may only make the
# section found surer (0.61), never pick another: "how do i send back the socks" found the worn-shoes
# section as written, and "send back the items" would pull it to "What if my item arrived damaged…".
CONFIRMING_READING_BELOW = 0.55
# Nearest vectors fetched per collection: every section has two (heading alone, heading +
# answer), and the lexical view may promote a section the cosine ranked well below the top.
DENSE_POOL = 64


class AnswerRanker(Protocol):
    async def rerank(self, query: np.ndarray, scored: Sequence[tuple[float, SectionKey]],
                     customer_id: int | None) -> list[tuple[float, SectionKey]]: ...


@dataclass(frozen=True, slots=True)
class KnowledgeHit:
    source: str
    title: str
    section: str
    text: str
    similarity: float  # fused score in [0, 1], on the dense cosine's scale (see the module docstring)
    dense: float = 0.0  # cosine of the query embedding and the section
    lexical: float = 0.0  # share of the query's informative words the section holds; 0 without query text
    # Only on the best hit: it leads the runner-up by CONFIDENT_MARGIN, so it is the answer
    # rather than one of several close ones. The decide stage answers only a confident hit.
    confident: bool = False
    chunk: int = 0  # the section's index on its page: (source, chunk) names one section


def _lexical_documents(rows: Sequence[tuple[str, str, dict[str, Any]]]) -> list[LexicalDocument]:
    """One document per section, from the vector rows (two rows, same text, per section)."""
    documents: dict[SectionKey, LexicalDocument] = {}
    for _, text, meta in rows:
        key = (str(meta.get("source", "")), int(meta.get("chunk", 0)))
        if key not in documents:
            documents[key] = LexicalDocument(key, str(meta.get("title", "")), str(meta.get("section", "")), text)
    return [documents[k] for k in sorted(documents)]


# Indexes already built, by the sections they hold: an index only reads after it is built, so runtimes
# of one process opened on the same knowledge (the scenario runner opens one a scenario, tests many)
# share it instead of stemming and filling the spelling dictionary again (~0.1 s a runtime). Two: the
# public and the internal index of the knowledge as it stands.
_BUILT: OrderedDict[tuple[LexicalDocument, ...], LexicalIndex] = OrderedDict()
_BUILT_LOCK = threading.Lock()
_BUILT_KEPT = 2


def _index_for(documents: list[LexicalDocument]) -> LexicalIndex:
    key = tuple(documents)
    with _BUILT_LOCK:
        if key in _BUILT:
            _BUILT.move_to_end(key)
            return _BUILT[key]
    index = LexicalIndex(documents)
    with _BUILT_LOCK:
        _BUILT[key] = index
        while len(_BUILT) > _BUILT_KEPT:
            _BUILT.popitem(last=False)
    return index


class PageCollections:
    """Customer-facing and internal-only page sections, kept in two collections, each with its keyword index.

    Internal pages live apart, so a customer's query cannot rank them in at all, and no
    metadata filter is needed: a filtered Chroma query scans the metadata of every
    collection in the store (28 ms beside 100,000 memories, against 1.3 ms unfiltered).
    The keyword indexes are apart for the same reason. Ingest sees one collection: writes
    are routed by each section's ``internal`` flag, and ``refresh_lexical`` rebuilds both
    indexes from what the collections then hold.
    """

    def __init__(self, public: VectorCollection, internal: VectorCollection) -> None:
        self.public = public
        self.internal = internal
        self.lexical_public: LexicalIndex | None = None
        self.lexical_internal: LexicalIndex | None = None
        self.lexical_builds = 0  # how many times the indexes were built: start-up and ingest only
        self.titles: dict[str, str] = {}  # page source -> its title, from the same build
        self._building = asyncio.Lock()

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

    async def refresh_lexical(self) -> None:
        """Rebuild both keyword indexes from the stored sections (start-up, and after ingest changed them)."""
        async with self._building:
            await self._build_lexical()

    async def ensure_lexical(self) -> None:
        """Build the indexes if nobody has: a process that skipped ``KnowledgeBase.load`` pays once, not per turn."""
        if self.lexical_public is None:
            async with self._building:
                if self.lexical_public is None:
                    await self._build_lexical()

    async def _build_lexical(self) -> None:
        public = _lexical_documents(await self.public.documents())
        internal = _lexical_documents(await self.internal.documents())
        # Building stems every word and fills the spelling dictionary: CPU work, off the loop.
        # The new indexes replace the old in one assignment, so a search running meanwhile
        # sees either the old pair or the new one.
        self.lexical_public, self.lexical_internal = await asyncio.to_thread(
            lambda: (_index_for(public), _index_for(internal))
        )
        self.titles = {d.key[0]: d.title for d in (*public, *internal)}
        self.lexical_builds += 1


@dataclass(slots=True)
class _Candidate:
    hit: VectorHit
    dense: float
    index: LexicalIndex | None


def fused_similarity(dense: float, coverage: float) -> float:
    """The dense cosine moved by lexical agreement, clipped to [0, 1]."""
    return float(min(1.0, max(0.0, dense + LEXICAL_WEIGHT * (coverage - LEXICAL_NEUTRAL))))


Coverage = dict[LexicalIndex, dict[SectionKey, float]]
# Each section's best score over the readings of a question, with the candidate and keyword coverage that gave it.
Scores = dict[SectionKey, tuple[float, _Candidate, float]]


async def _read(embedding: np.ndarray, text: str, sources: Sequence[tuple[VectorCollection, LexicalIndex | None]],
                best: Scores) -> None:
    """Score the sections for one reading of the question, keeping each section's best score so far
    (with its candidate and keyword coverage) in ``best``."""
    candidates = await _candidates(embedding, sources)
    coverage = _coverage(text, {c.index for c in candidates.values() if c.index is not None})
    for key, c in candidates.items():
        score = _score(c, key, coverage)
        if key not in best or score > best[key][0]:
            best[key] = (score, c, coverage.get(c.index, {}).get(key, 0.0) if c.index is not None else 0.0)


async def _candidates(embedding: np.ndarray,
                      sources: Sequence[tuple[VectorCollection, LexicalIndex | None]]) -> dict[SectionKey, _Candidate]:
    """The nearest sections of each collection, each with its best cosine (a section has two vectors)."""
    candidates: dict[SectionKey, _Candidate] = {}
    for collection, index in sources:
        # Candidates come from the vector store, so a section deleted there is never returned,
        # whatever a keyword index built earlier remembers.
        for h in await collection.query(embedding, DENSE_POOL):
            key = (str(h.metadata.get("source", "")), int(h.metadata.get("chunk", 0)))
            if key not in candidates or h.similarity > candidates[key].dense:
                candidates[key] = _Candidate(h, h.similarity, index)
    return candidates


def _coverage(text: str, indexes: set[LexicalIndex]) -> Coverage:
    """Each index's matching sections and their coverage. An index is left out when the query
    has no informative word in it ("hi", or no text at all): then the dense score stands alone."""
    # Scoring a query is a sparse lookup over a small index (well under a millisecond): run inline.
    return {index: {key: s.coverage for key, s in index.score(text).items()}
            for index in indexes if text and index.query_terms(text)}


def _score(candidate: _Candidate, key: SectionKey, coverage: Coverage) -> float:
    # A section the keyword index has not seen (another process ingested it since this one
    # built its index) is scored on its cosine alone, neither helped nor held back.
    if candidate.index is None or candidate.index not in coverage or key not in candidate.index:
        return max(0.0, min(1.0, candidate.dense))
    return fused_similarity(candidate.dense, coverage[candidate.index].get(key, 0.0))


# Words a customer opens with before the question, carrying no topic: "fine.", "ok so", "alright,", "hmm".
_LEAD_IN = re.compile(r"^\s*(?:(?:ok(?:ay)?|fine|alright|all right|well|so|hmm+|um+|uh+|right|cool|great|sure|yeah|"
                      r"yes|no|nope|thanks|thank you|thx|ty|got it|i see)\s*[,.!;:-]*\s+)+(?=\w)", re.I)


def _without_lead_in(text: str) -> str:
    """``text`` without its opening filler; the whole text when that would leave nothing."""
    rest = _LEAD_IN.sub("", text)
    return rest if rest.strip() else text


def _top_score(best: Scores) -> float:
    return max((b[0] for b in best.values()), default=0.0)


def _top_key(best: Scores) -> SectionKey | None:
    return max(best, key=lambda key: best[key][0], default=None)


class KnowledgeBase:
    """Page sections and catalog vectors, searched by a query's embedding and (when given) its words.

    With an ``embedder``, a query whose words the spelling correction changed is embedded
    again as corrected ("how lnog does shiping take" -> "how long does shipping take"):
    MiniLM's word pieces of a misspelt word carry little of its meaning. Without one, the
    engine's embedding is used as it is and only the keyword side sees the correction.

    A question naming one of the shop's products that finds nothing near as written ("my kettle got
    cheaper since I bought it": 0.30) is read again with the product said as "item"
    (``bot/knowledge/product_words.py``), and each section keeps the better of its two scores: the
    product's name no longer drowns the policy it asks about. One that finds a section near but below an
    answer ("amazon sells the kettle for less…": 0.43) is read again too, and the better scores are kept
    only when the "item" reading ranks the same section first.
    """

    def __init__(self, pages: PageCollections, catalog: VectorCollection, embedder: Embedder | None = None) -> None:
        self.pages = pages
        self.catalog = catalog
        self._embedder = embedder
        # Answer votes re-rank sections (bot/learning/answers.py sets this); None: retrieval alone.
        self.learning: AnswerRanker | None = None
        self._products: ProductWords | None = None
        self._products_built_at = -1  # the pages' index build it was read with: an ingest reads it again

    @classmethod
    async def open(cls, pages: PageCollections, catalog: VectorCollection,
                   embedder: Embedder | None = None) -> KnowledgeBase:
        """A knowledge base whose keyword indexes are built now, at start-up, not on a customer's turn."""
        knowledge = cls(pages, catalog, embedder)
        await knowledge.load()
        return knowledge

    async def load(self) -> None:
        """Build the keyword indexes from the stored sections; ingest rebuilds them after a change."""
        await self.pages.refresh_lexical()
        await self._product_words()

    async def search(self, embedding: np.ndarray, limit: int = 3, include_internal: bool = False,
                     text: str = "", customer_id: int | None = None, learn: bool = True) -> list[KnowledgeHit]:
        """The ``limit`` best sections for a query, best first.

        ``embedding`` is the query's unit vector; ``text`` its words (empty: dense ranking
        alone). ``include_internal`` adds staff-only pages (staff asking, never customers).
        """
        respelt = None
        if text:
            await self.pages.ensure_lexical()
            # The question as asked: misspellings corrected, a lead-in that says nothing dropped ("fine. whats
            # your phone number" 0.54, under an answer; without "fine." 0.69).
            asked = self._asked(text)
            if asked != text and self._embedder is not None:
                respelt = asked
                embedding = (await embed_async(self._embedder, [respelt]))[0]
        sources: list[tuple[VectorCollection, LexicalIndex | None]] = [(self.pages.public, self.pages.lexical_public)]
        if include_internal:
            sources.append((self.pages.internal, self.pages.lexical_internal))
        # Each section's best score over the readings of the question, with the view that gave it.
        best: Scores = {}
        await _read(embedding, text, sources, best)
        if text and self._embedder is not None and _top_score(best) < CONFIRMING_READING_BELOW:
            general = (await self._product_words()).generalised(respelt or text)
            if general is not None:
                as_item, without_product = general
                as_written = _top_key(best)
                read_as_item: Scores = {}
                await _read((await embed_async(self._embedder, [as_item]))[0], without_product, sources, read_as_item)
                if _top_score(best) < GENERAL_READING_BELOW or _top_key(read_as_item) == as_written:
                    for key, scored_as_item in read_as_item.items():
                        if key not in best or scored_as_item[0] > best[key][0]:
                            best[key] = scored_as_item
        scored = sorted(((score, key, c) for key, (score, c, _) in best.items()), key=lambda item: -item[0])
        if learn and self.learning is not None:
            moved = await self.learning.rerank(embedding, [(score, key) for score, key, _ in scored], customer_id)
            scored = [(score, key, best[key][1]) for score, key in moved]
        runner_up = scored[1][0] if len(scored) > 1 else 0.0
        return [
            KnowledgeHit(
                source=key[0],
                title=str(c.hit.metadata.get("title", "")),
                section=str(c.hit.metadata.get("section", "")),
                text=c.hit.document,
                similarity=similarity,
                dense=c.dense,
                lexical=best[key][2],
                confident=rank == 0 and similarity - runner_up >= CONFIDENT_MARGIN,
                chunk=key[1],
            )
            for rank, (similarity, key, c) in enumerate(scored[:limit])
        ]

    async def search_follow_up(self, text: str, topic_source: str, limit: int = 3, include_internal: bool = False,
                               customer_id: int | None = None) -> list[KnowledgeHit] | None:
        """A follow-up to the last answer ("how long does that take?" after where a refund goes), read
        with that answer's page title ("… (Refunds)") and answered from that page: its sections, best
        first, the best confident when it leads the page's next by CONFIDENT_MARGIN; None when the page
        has none near (below GENERAL_READING_BELOW). As written, the question's own words win ("How long
        does shipping take?"); the title says what "that" stood for. Only the title, not the last
        section's heading: with the heading the reading found the last section again."""
        title = self.pages.titles.get(topic_source)
        if not title or self._embedder is None or self._names_another_page(text, topic_source):
            return None
        # Read as search would read it, so search does not embed it a second time.
        query = f"{self._asked(text)} ({title})"
        embedding = (await embed_async(self._embedder, [query]))[0]
        hits = await self.search(embedding, limit=limit + 5, include_internal=include_internal, text=query,
                                 customer_id=customer_id)
        on_page = [h for h in hits if h.source == topic_source][:limit]
        if not on_page or on_page[0].similarity < GENERAL_READING_BELOW:
            return None
        runner_up = on_page[1].similarity if len(on_page) > 1 else 0.0
        best = replace(on_page[0], confident=on_page[0].similarity - runner_up >= CONFIDENT_MARGIN)
        return [best, *(replace(h, confident=False) for h in on_page[1:])]

    def _names_another_page(self, text: str, topic_source: str) -> bool:
        """Whether the question names its own topic ("does it come with a warranty?" after a returns
        answer): a word of another page's title."""
        index = self.pages.lexical_public
        if index is None:
            return False
        own = set(index.query_terms(text))
        return any(own & set(index.query_terms(title)) for source, title in self.pages.titles.items()
                   if source != topic_source)

    def _asked(self, text: str) -> str:
        """The question as asked: misspellings corrected, a lead-in that says nothing dropped."""
        return _without_lead_in(self._respelt(text) or text)

    def _respelt(self, text: str) -> str | None:
        """The question as corrected when the spelling correction changed a word and it can be embedded again."""
        index = self.pages.lexical_public
        return index.respell(text) if index is not None and self._embedder is not None else None

    async def _product_words(self) -> ProductWords:
        """The catalog's product nouns, read again after an ingest rebuilt the pages' indexes."""
        if self._products is None or self._products_built_at != self.pages.lexical_builds:
            built_at = self.pages.lexical_builds
            names = [str(m.get("name", "")) for m in (await self.catalog.metadatas({"kind": "product"})).values()]
            self._products, self._products_built_at = ProductWords(names), built_at
        return self._products

    async def is_empty(self) -> bool:
        return await self.pages.count() == 0 and await self.catalog.count() == 0
