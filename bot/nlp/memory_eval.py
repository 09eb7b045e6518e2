"""``rapport eval memory``: does the right past turn come back? Dense-only vs hybrid recall.

Input is JSON Lines, one conversation (one customer's history) per line::

    {"id": str, "turns": [{"id": str, "speaker": str, "text": str, "at": str}],
     "questions": [{"question": str, "evidence": [turn ids]}]}

Each conversation becomes one customer in a fresh SQLite + Chroma under a temporary folder:
its turns are stored as SQL rows and written through :meth:`CustomerMemory.remember` (the real
writer: embedding, near-duplicate merging, the per-customer cap). Each question is then asked
through :meth:`CustomerMemory.recall`, once with the embedding alone (dense) and once with the
question's text as well (hybrid).

* ``recall_any@k``: share of questions with at least one evidence turn in the top k;
* ``recall_all@k``: share of evidence turns found in the top k (over all questions);
* p50 / p95 recall latency per mode, in milliseconds;
* ``halves``: recall_any@k of each mode on the conversations at even positions of the file
  (the half ``scripts/tune_memory_recall.py`` tunes on) and at odd positions (the held-out half).

A recalled memory counts for an evidence turn when it is that turn's row, or when the writer
merged the evidence turn into a near-duplicate and the memory's text is the same words.
"""

from __future__ import annotations

import json
import statistics
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
from pydantic import BaseModel, ConfigDict, ValidationError

from bot.errors import RapportError

DEFAULT_KS = (1, 3, 5, 10)
MODES = ("dense", "hybrid")


class DevTurn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: str
    speaker: str
    text: str
    at: str = ""


class DevQuestion(BaseModel):
    model_config = ConfigDict(extra="forbid")
    question: str
    evidence: list[str]


class DevConversation(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: str
    turns: list[DevTurn]
    questions: list[DevQuestion]


@dataclass(frozen=True, slots=True)
class Asked:
    """One question's outcome in one mode: evidence found at each k, and how long recall took."""

    found_at: dict[int, int]  # k -> evidence turns in the top k
    evidence: int
    seconds: float
    conversation: int = 0  # its conversation's position in the file (0-based)


def read_dev_set(path: Path) -> list[DevConversation]:
    """Parse the JSON Lines file; a bad line names its number and the field."""
    if not path.exists():
        raise RapportError(f"no memory evaluation file at {path}", fix="pass a JSON Lines file (see rapport eval memory --help)")
    out = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            conversation = DevConversation.model_validate_json(line)
        except ValidationError as exc:
            raise RapportError(f"{path}:{number} is not a conversation: {exc.errors()[0]['loc']} "
                               f"{exc.errors()[0]['msg']}", fix="one {id, turns, questions} object per line") from exc
        ids = {t.id for t in conversation.turns}
        for question in conversation.questions:
            missing = [e for e in question.evidence if e not in ids]
            if missing or not question.evidence:
                raise RapportError(f"{path}:{number}: question {question.question!r} names evidence "
                                   f"{missing or '[]'} that is not a turn id", fix="list ids from turns")
        out.append(conversation)
    if not out:
        raise RapportError(f"{path} holds no conversations", fix="write one JSON object per line")
    return out


def _when(at: str, fallback: datetime) -> datetime:
    try:
        parsed = datetime.fromisoformat(at.replace("Z", "+00:00"))
    except ValueError:
        return fallback
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _normalised(text: str) -> str:
    return " ".join(text.lower().split())


async def evaluate_memory(path: Path, ks: tuple[int, ...] = DEFAULT_KS, shards: int = 4,
                          max_per_customer: int = 1000) -> dict[str, object]:
    """Load every conversation through the memory writer, ask every question in both modes."""
    conversations = read_dev_set(path)
    ks = tuple(sorted(set(ks)))
    with tempfile.TemporaryDirectory(prefix="rapport-eval-memory-") as folder:
        outcomes, loaded = await _run(conversations, ks, Path(folder), shards, max_per_customer)
    return _report(path, conversations, ks, outcomes, loaded)


async def _run(conversations: list[DevConversation], ks: tuple[int, ...], folder: Path, shards: int,
               max_per_customer: int) -> tuple[dict[str, list[Asked]], int]:
    from bot.embedder import load_embedder
    from bot.store.database import Database
    from bot.store.memory import CustomerMemory, shard_names, turn_source, vector_id
    from bot.store.migrations import ensure_schema
    from bot.store.tables import Customer, Turn
    from bot.store.vectors import VectorStore

    database = Database("", folder)
    await ensure_schema(database, auto_upgrade=True)
    embedder = load_embedder()
    vectors = VectorStore.open("", folder, embedder.name, embedder.dimension)
    memory = CustomerMemory([await vectors.collection(n) for n in shard_names(shards)], database,
                            max_per_customer=max_per_customer)
    outcomes: dict[str, list[Asked]] = {mode: [] for mode in MODES}
    loaded = 0
    start = datetime(2020, 1, 1, tzinfo=UTC)
    try:
        for position, conversation in enumerate(conversations):
            async with database.session() as session:
                customer = Customer(name=conversation.id[:200], external_id=f"eval:{conversation.id}"[:128])
                session.add(customer)
                await session.commit()
                rows = [Turn(customer_id=customer.id or 0, conversation=f"eval:{conversation.id}", platform="eval",
                             role="customer", text=t.text, message_id=t.id[:200],
                             created_at=_when(t.at, start + timedelta(minutes=n)))
                        for n, t in enumerate(conversation.turns)]
                session.add_all(rows)
                await session.commit()
            assert customer.id is not None
            embeddings = embedder.embed([t.text for t in conversation.turns])
            for row, embedding in zip(rows, embeddings, strict=True):
                memory.remember(customer.id, turn_source(row.id or 0), row.text, embedding, row.conversation,
                                row.created_at, customer.created_at)
            await memory.flush()
            loaded += len(rows)
            by_source = {vector_id(turn_source(r.id or 0)): t.id for r, t in zip(rows, conversation.turns, strict=True)}
            text_of = {t.id: _normalised(t.text) for t in conversation.turns}
            questions = [q.question for q in conversation.questions]
            for question, probe in zip(conversation.questions, embedder.embed(questions), strict=True):
                for mode in MODES:
                    started = time.perf_counter()
                    recalled = await memory.recall(customer.id, probe, max(ks),
                                                   text=question.question if mode == "hybrid" else "")
                    seconds = time.perf_counter() - started
                    outcomes[mode].append(_score(question.evidence, [(by_source.get(m.source, ""), _normalised(m.text))
                                                                    for m in recalled], text_of, ks, seconds, position))
    finally:
        await memory.close()
        await database.engine.dispose()
    return outcomes, loaded


def _score(evidence: list[str], recalled: list[tuple[str, str]], text_of: dict[str, str], ks: tuple[int, ...],
           seconds: float, conversation: int = 0) -> Asked:
    found_at = {}
    for k in ks:
        top = recalled[:k]
        ids, texts = {i for i, _ in top}, {t for _, t in top}
        found_at[k] = sum(1 for e in evidence if e in ids or text_of[e] in texts)
    return Asked(found_at, len(evidence), seconds, conversation)


def _report(path: Path, conversations: list[DevConversation], ks: tuple[int, ...],
            outcomes: dict[str, list[Asked]], loaded: int) -> dict[str, object]:
    results: dict[str, dict[str, float]] = {}
    for mode, asked in outcomes.items():
        evidence = sum(a.evidence for a in asked) or 1
        row: dict[str, float] = {}
        for k in ks:
            row[f"recall_any@{k}"] = round(float(np.mean([a.found_at[k] > 0 for a in asked])), 4)
            row[f"recall_all@{k}"] = round(sum(a.found_at[k] for a in asked) / evidence, 4)
        timings = sorted(a.seconds * 1000 for a in asked)
        row["p50_ms"] = round(statistics.median(timings), 2)
        row["p95_ms"] = round(timings[min(len(timings) - 1, int(len(timings) * 0.95))], 2)
        results[mode] = row
    # The halves scripts/tune_memory_recall.py tunes on (even positions) and reports on (odd).
    halves = {}
    for half, parity in (("tune", 0), ("report", 1)):
        rows = {mode: [a for a in asked if a.conversation % 2 == parity] for mode, asked in outcomes.items()}
        halves[half] = {"questions": len(rows[MODES[0]]), **{
            mode: {f"recall_any@{k}": round(float(np.mean([a.found_at[k] > 0 for a in asked])), 4) if asked else 0.0
                   for k in ks} for mode, asked in rows.items()}}
    return {"file": str(path), "conversations": len(conversations), "turns": loaded,
            "questions": len(outcomes[MODES[0]]), "ks": list(ks), "results": results, "halves": halves}


def parse_ks(value: str) -> tuple[int, ...]:
    """``"1,3,5,10"`` -> (1, 3, 5, 10); every k a positive integer."""
    try:
        ks = tuple(int(part) for part in value.split(",") if part.strip())
    except ValueError as exc:
        raise RapportError(f"--k {value!r} is not a list of numbers", fix="write e.g. --k 1,3,5,10") from exc
    if not ks or min(ks) < 1:
        raise RapportError(f"--k {value!r} needs positive numbers", fix="write e.g. --k 1,3,5,10")
    return ks


def to_json(report: dict[str, object]) -> str:
    return json.dumps(report)
