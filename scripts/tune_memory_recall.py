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
Every candidate's figure on both halves is printed; the setting is chosen on the tuning half
alone, among fusions of the run-time form (cosine + w x lexical, :func:`fuse_scores`). The last
line also gives the other fold (chosen on the report half, scored on the tuning half).
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.nlp.memory_eval import read_dev_set  # noqa: E402
from bot.store.memory import (  # noqa: E402
    DENSE_POOL_FACTOR,
    DENSE_POOL_MIN,
    bm25_scores,
    fuse_scores,
    lexical_coverage,
    memory_documents,
)


K = 5
# Lexical scorers: name -> (scorer, turns before a memory that lend it their words, within seconds).
# "coverage" is the previous run-time scorer (share of the query's IDF weight a memory holds).
SCORERS = {
    "coverage": ("coverage", 0, 0),
    "bm25": ("bm25", 0, 0),
    **{f"bm25+{before}@{seconds}s": ("bm25", before, seconds) for before in (1, 2, 3) for seconds in (300, 1800)},
}
WEIGHTS = (0.02, 0.05, 0.1, 0.15, 0.2, 0.3, 0.5)
FUSIONS = ("score", "minmax", "rrf")  # the run-time form first; the others are candidates
RRF_K = 60


def rank_fusion(cosine: dict[str, float], lexical: dict[str, float], weight: float) -> list[str]:
    """Reciprocal-rank fusion, the lexical ranking weighted by ``weight`` (a candidate, not used at run time)."""
    dense_rank = {i: r for r, i in enumerate(sorted(cosine, key=lambda i: -cosine[i]))}
    lexical_rank = {i: r for r, i in enumerate(sorted(lexical, key=lambda i: -lexical[i]))}
    fused = {i: 1 / (RRF_K + dense_rank.get(i, 10**6)) + weight / (RRF_K + lexical_rank.get(i, 10**6))
             for i in {*dense_rank, *lexical_rank}}
    return sorted(fused, key=lambda i: -fused[i])


def minmax_fusion(cosine: dict[str, float], lexical: dict[str, float], at: dict[str, str], weight: float) -> list[str]:
    """(1 - weight) x the pool's cosine scaled to [0, 1] + weight x lexical (a candidate, not used at run time)."""
    low, high = min(cosine.values()), max(cosine.values())
    scaled = {i: (v - low) / (high - low) if high > low else 1.0 for i, v in cosine.items()}
    fused = {i: (1 - weight) * scaled.get(i, 0.0) + weight * lexical.get(i, 0.0) for i in {*cosine, *lexical}}
    newest_first = sorted(fused, key=lambda i: at.get(i, ""), reverse=True)
    return sorted(newest_first, key=lambda i: -round(fused[i], 9))


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


def lexical_scores(person: dict, question: str, scorer: str) -> dict[str, float]:
    kind, before, seconds = SCORERS[scorer]
    if kind == "coverage":
        return lexical_coverage(question, person["texts"])
    key = (before, seconds)
    if key not in person["documents"]:  # one conversation per person, as rapport eval memory stores it
        person["documents"][key] = memory_documents(person["texts"], person["at"], {}, before, seconds)
    return bm25_scores(question, person["documents"][key])


def first_ranks(people: list[dict], scorer: str, weight: float, fusion: str = "score", k: int = K) -> list[int]:
    """Per question, the rank (0-based) of its first evidence turn in the fused list (a large number if absent)."""
    ranks = []
    pool = max(k * DENSE_POOL_FACTOR, DENSE_POOL_MIN)
    for person in people:
        for question, evidence, cosine_all in person["questions"]:
            top = sorted(cosine_all, key=lambda i: -cosine_all[i])[:pool]
            cosine = {i: cosine_all[i] for i in top}
            floor = min(cosine.values())
            lexical = lexical_scores(person, question, scorer) if weight else {}
            if fusion == "rrf":
                ranked = rank_fusion(cosine, lexical, weight)
            elif fusion == "minmax":
                ranked = minmax_fusion(cosine, lexical, person["at"], weight)
            else:
                ranked = fuse_scores(cosine, lexical, person["at"], floor, weight)
            ranks.append(min((ranked.index(e) for e in evidence if e in ranked), default=10**6))
    return ranks


def recall_any(people: list[dict], scorer: str, weight: float, k: int = K, fusion: str = "score") -> float:
    ranks = first_ranks(people, scorer, weight, fusion, k)
    return sum(r < k for r in ranks) / len(ranks)


def choose(rows: list[dict], half: str) -> dict:
    """The best row on ``half`` among run-time-form ("score") fusions; ties go to the smaller
    weight, then to the earlier scorer in SCORERS (fewer context turns, shorter window)."""
    order = list(SCORERS)
    candidates = [r for r in rows if r["fusion"] == "score"]
    return max(candidates, key=lambda r: (round(r[half], 6), -r["weight"], -order.index(r["scorer"])))


def main() -> int:
    path = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "bench" / "sets" / "memory_dev.jsonl"
    people = prepare(path, Path(sys.argv[2]) if len(sys.argv) > 2 else None)
    for person in people:
        person["documents"] = {}
    halves = {"tune": people[0::2], "report": people[1::2]}
    dense = {half: recall_any(group, "coverage", 0.0) for half, group in halves.items()}
    rows = [{"fusion": f, "scorer": s, "weight": w, **{h: recall_any(g, s, w, fusion=f) for h, g in halves.items()}}
            for f in FUSIONS for s in SCORERS for w in WEIGHTS]
    for row in rows:  # every row shows both halves; only the tuning half chooses
        print(json.dumps({**row, "tune": round(row["tune"], 4), "report": round(row["report"], 4)}))
    chosen = choose(rows, "tune")
    best_any_form = max(rows, key=lambda r: (round(r["tune"], 6), -r["weight"]))
    reverse = choose(rows, "report")  # the other fold: chosen on the report half, scored on the tuning half
    print(json.dumps({
        "dense": {h: round(v, 4) for h, v in dense.items()},
        "chosen_on_tune": {**chosen, "tune": round(chosen["tune"], 4), "report": round(chosen["report"], 4)},
        "best_on_tune_any_fusion": {**best_any_form, "tune": round(best_any_form["tune"], 4),
                                    "report": round(best_any_form["report"], 4)},
        "reverse_fold_chosen_on_report": {**reverse, "tune": round(reverse["tune"], 4),
                                          "report": round(reverse["report"], 4)},
        "questions": {h: sum(len(p["questions"]) for p in g) for h, g in halves.items()},
    }))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
