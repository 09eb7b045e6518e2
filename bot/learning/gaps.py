"""Knowledge gaps: the questions the bot could not answer, grouped by meaning, biggest group first, so an
admin knows which page to write next (``rapport review gaps``, the admin console's review page).

Run on demand, never on a customer's turn: the texts are embedded then (off the event loop) and grouped
greedily: each distinct question, most asked first, joins the group whose centroid it is closest to if the
cosine reaches ``SAME_QUESTION``, else starts a group of its own. A question that close to an approved
team answer is left out: that gap is filled.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from dataclasses import dataclass
from datetime import datetime

import numpy as np

from bot.embedder import Embedder, embed_async
from bot.store.review import AskedTurn, ReviewQueue, ReviewStatus

__all__ = ["SAME_QUESTION", "GapCluster", "KnowledgeGaps", "cluster"]

# Cosine (all-MiniLM-L6-v2) at which two questions ask the same thing: paraphrases of one question score
# 0.6–0.9 with it, different questions about the same shop 0.2–0.5.
SAME_QUESTION = 0.6
# The handler names whose turns mean "no section answered" (unknown, clarify; handoffs the bot could not
# avoid are added by the queue's query).
UNANSWERED = ("unknown", "clarify")
EXAMPLES = 3


@dataclass(frozen=True, slots=True)
class GapCluster:
    count: int  # how many messages asked it
    examples: tuple[str, ...]  # the most asked wordings first
    platforms: tuple[str, ...]
    last_asked: datetime


def _normal(text: str) -> str:
    return " ".join(text.lower().split())


def cluster(turns: list[AskedTurn], vectors: np.ndarray, threshold: float = SAME_QUESTION) -> list[GapCluster]:
    """Group ``turns`` (whose distinct normalised texts, in first-seen order, have the unit ``vectors``)."""
    distinct: dict[str, list[AskedTurn]] = {}
    for turn in turns:
        distinct.setdefault(_normal(turn.text), []).append(turn)
    keys = list(distinct)
    order = sorted(range(len(keys)), key=lambda i: -len(distinct[keys[i]]))
    members: list[list[int]] = []
    sums: list[np.ndarray] = []
    for i in order:
        if sums:
            centroids = np.stack([s / np.linalg.norm(s) for s in sums])
            scores = centroids @ vectors[i]
            best = int(np.argmax(scores))
            if scores[best] >= threshold:
                members[best].append(i)
                sums[best] = sums[best] + vectors[i]
                continue
        members.append([i])
        sums.append(np.array(vectors[i], dtype=np.float64))
    groups = []
    for indexes in members:
        asked = [t for i in indexes for t in distinct[keys[i]]]
        wordings = Counter(_normal(t.text) for t in asked)
        shown = {_normal(t.text): t.text for t in sorted(asked, key=lambda t: t.at)}  # the latest spelling of each
        groups.append(GapCluster(len(asked), tuple(shown[w] for w, _ in wordings.most_common(EXAMPLES)),
                                 tuple(sorted({t.platform for t in asked})), max(t.at for t in asked)))
    return sorted(groups, key=lambda g: (-g.count, -g.last_asked.timestamp()))


class KnowledgeGaps:
    def __init__(self, queue: ReviewQueue, embedder: Embedder) -> None:
        self._queue = queue
        self._embedder = embedder

    async def clusters(self, limit: int = 20, since: datetime | None = None) -> list[GapCluster]:
        """The ``limit`` biggest groups of unanswered questions (asked since ``since``, else ever)."""
        turns = await self._queue.unanswered(UNANSWERED, since=since)
        if not turns:
            return []
        texts = list(dict.fromkeys(_normal(t.text) for t in turns))
        answered = [a.question for a in await self._queue.items(ReviewStatus.APPROVED, limit=100_000)]
        vectors = await embed_async(self._embedder, texts + answered)
        vectors, approved = vectors[:len(texts)], vectors[len(texts):]
        if len(approved):
            # A gap an approved team answer has filled since is no longer a page to write.
            filled = {texts[i] for i in np.flatnonzero((vectors @ approved.T).max(axis=1) >= SAME_QUESTION)}
            kept = [i for i, text in enumerate(texts) if text not in filled]
            turns = [t for t in turns if _normal(t.text) not in filled]
            texts, vectors = [texts[i] for i in kept], vectors[kept]
            if not turns:
                return []
        groups = await asyncio.to_thread(cluster, turns, vectors)
        return groups[:limit]
