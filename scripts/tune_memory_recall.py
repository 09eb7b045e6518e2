#!/usr/bin/env python
"""Choose hybrid memory recall's fusion on one half of the development set, report it on the other.

    .venv/bin/python scripts/tune_memory_recall.py [bench/sets/memory_dev.jsonl [CACHE.npz]]

The full ``rapport eval memory`` runs the real write path (Chroma, SQL, merging) and takes
minutes on a shared machine; this script replays recall in memory -- every turn embedded once,
the cosine over all of a person's turns, the same dense pool, lexical scorers and
``fuse_scores`` as :meth:`CustomerMemory.recall` -- so a grid of settings costs seconds.
Near-duplicate merging is not replayed here (it changes few turns in this set); the figures of
record come from ``rapport eval memory``.

Split: people at even positions of the file are the tuning half, odd positions the report half.
"""

from __future__ import annotations

import json
import math
import sys
from collections import Counter
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.nlp.memory_eval import read_dev_set  # noqa: E402
from bot.store.memory import (  # noqa: E402
    DENSE_POOL_FACTOR,
    DENSE_POOL_MIN,
    fuse_scores,
    keywords,
    lexical_coverage,
)


def bm25_scores(query: str, texts: dict[str, str], k1: float = 1.2, b: float = 0.75) -> dict[str, float]:
    """A candidate lexical scorer, not used at run time (it did no better than coverage here).

    Memory id -> Okapi BM25 of the query over this customer's memories, divided by the best
    score so that it lies in (0, 1] like a cosine. Unlike :func:`lexical_coverage`, a word said
    twice counts more and a long memory is discounted. Memories sharing no query word are left out.
    """
    terms = set(keywords(query))
    if not terms or not texts:
        return {}
    docs = {i: Counter(keywords(t)) for i, t in texts.items()}
    average = sum(sum(c.values()) for c in docs.values()) / len(docs) or 1.0
    frequency = Counter(term for counts in docs.values() for term in terms & counts.keys())
    idf = {t: math.log(1 + (len(docs) - frequency[t] + 0.5) / (frequency[t] + 0.5)) for t in terms}
    scores = {}
    for i, counts in docs.items():
        length = sum(counts.values())
        score = sum(idf[t] * counts[t] * (k1 + 1) / (counts[t] + k1 * (1 - b + b * length / average))
                    for t in terms & counts.keys())
        if score > 0:
            scores[i] = score
    best = max(scores.values(), default=1.0)
    return {i: s / best for i, s in scores.items()}


K = 5
SCORERS = {"coverage": lexical_coverage, "bm25": bm25_scores}
WEIGHTS = (0.0, 0.02, 0.05, 0.1, 0.15, 0.2, 0.3, 0.5)
RRF_K = 60


def rank_fusion(cosine: dict[str, float], lexical: dict[str, float], weight: float) -> list[str]:
    """Reciprocal-rank fusion, the lexical ranking weighted by ``weight`` (a candidate, not used at run time)."""
    dense_rank = {i: r for r, i in enumerate(sorted(cosine, key=lambda i: -cosine[i]))}
    lexical_rank = {i: r for r, i in enumerate(sorted(lexical, key=lambda i: -lexical[i]))}
    fused = {i: 1 / (RRF_K + dense_rank.get(i, 10**6)) + weight / (RRF_K + lexical_rank.get(i, 10**6))
             for i in {*dense_rank, *lexical_rank}}
    return sorted(fused, key=lambda i: -fused[i])


def prepare(path: Path, cache: Path | None = None) -> list[dict]:
    """Embed every turn and question once; ``cache`` (an .npz) keeps the vectors between runs."""
    from bot.embedder import load_embedder

    conversations = read_dev_set(path)
    if cache is not None and cache.exists():
        stored = np.load(cache)
        vectors = [(stored[f"t{n}"], stored[f"q{n}"]) for n in range(len(conversations))]
    else:
        embedder = load_embedder()
        vectors = [(np.asarray(embedder.embed([t.text for t in c.turns])),
                    np.asarray(embedder.embed([q.question for q in c.questions]))) for c in conversations]
        if cache is not None:
            np.savez(cache, **{f"t{n}": t for n, (t, _) in enumerate(vectors)},
                     **{f"q{n}": q for n, (_, q) in enumerate(vectors)})
    people = []
    for conversation, (turns, probes) in zip(conversations, vectors):
        ids = [t.id for t in conversation.turns]
        people.append({
            "texts": {t.id: t.text for t in conversation.turns},
            "at": {t.id: t.at for t in conversation.turns},
            "questions": [(q.question, set(q.evidence), dict(zip(ids, (turns @ p).tolist())))
                          for q, p in zip(conversation.questions, probes)],
        })
    return people


def recall_any(people: list[dict], scorer: str, weight: float, k: int = K, fusion: str = "score") -> float:
    hits = total = 0
    pool = max(k * DENSE_POOL_FACTOR, DENSE_POOL_MIN)
    for person in people:
        for question, evidence, cosine_all in person["questions"]:
            top = sorted(cosine_all, key=lambda i: -cosine_all[i])[:pool]
            cosine = {i: cosine_all[i] for i in top}
            floor = min(cosine.values())
            lexical = SCORERS[scorer](question, person["texts"]) if weight else {}
            ranked = (rank_fusion(cosine, lexical, weight) if fusion == "rrf"
                      else fuse_scores(cosine, lexical, person["at"], floor, weight))
            hits += bool(evidence & set(ranked[:k]))
            total += 1
    return hits / total


def main() -> int:
    path = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "bench" / "sets" / "memory_dev.jsonl"
    people = prepare(path, Path(sys.argv[2]) if len(sys.argv) > 2 else None)
    tune, report = people[0::2], people[1::2]
    rows = [{"fusion": f, "scorer": s, "weight": w, "tune": recall_any(tune, s, w, fusion=f)}
            for f in ("score", "rrf") for s in SCORERS for w in WEIGHTS if w]
    rows.insert(0, {"fusion": "score", "scorer": "coverage", "weight": 0.0, "tune": recall_any(tune, "coverage", 0.0)})
    for row in rows:
        print(json.dumps(row))
    best = max(rows, key=lambda r: (round(r["tune"], 6), -r["weight"]))
    dense = recall_any(report, "coverage", 0.0)
    chosen = recall_any(report, best["scorer"], best["weight"], fusion=best["fusion"])
    print(json.dumps({"chosen": best, "report_half": {"dense": round(dense, 4), "hybrid": round(chosen, 4)},
                      "questions": {"tune": sum(len(p["questions"]) for p in tune),
                                    "report": sum(len(p["questions"]) for p in report)}}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
