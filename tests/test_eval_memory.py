"""`rapport eval memory`: the real write path and recall, dense vs hybrid, on a small support history."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from bot.errors import RapportError
from bot.nlp.memory_eval import parse_ks, read_dev_set
from bot.store.memory import fuse_scores, lexical_coverage

ROOT = Path(__file__).resolve().parent.parent
PRODUCTS = ["kettle", "desk lamp", "trail shoes", "dog bed", "rain jacket", "coffee grinder", "tent", "backpack"]


def support_history(path: Path) -> Path:
    """One customer who reported a problem with each of several orders, in near-identical words:
    only the order number tells the turns apart, which is what a sentence embedding blurs."""
    turns, questions = [], []
    for n, product in enumerate(PRODUCTS):
        number = 40_000 + 137 * n
        turns.append({"id": f"t{n}", "speaker": "customer", "at": f"2025-03-{n + 1:02d}T10:00:00Z",
                      "text": f"order {number} has not arrived yet, it was the {product}"})
        questions.append({"question": f"what is going on with {number}?", "evidence": [f"t{n}"]})
    row = {"id": "c1", "turns": turns, "questions": questions}
    path.write_text(json.dumps(row) + "\n", encoding="utf-8")
    return path


def test_eval_memory_prints_dense_and_hybrid_and_hybrid_finds_order_numbers(tmp_path: Path) -> None:
    dev = support_history(tmp_path / "dev.jsonl")
    result = subprocess.run([sys.executable, "-m", "bot", "eval", "memory", str(dev), "--k", "1,3", "--json"],
                            capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["questions"] == len(PRODUCTS) and report["turns"] == len(PRODUCTS)
    dense, hybrid = report["results"]["dense"], report["results"]["hybrid"]
    for row in (dense, hybrid):
        assert set(row) >= {"recall_any@1", "recall_all@1", "recall_any@3", "recall_all@3", "p50_ms"}
        assert row["recall_any@1"] <= row["recall_any@3"]
    # The number is the only difference between the turns: words find it, the embedding mostly does not.
    assert hybrid["recall_any@1"] >= 0.75
    assert hybrid["recall_any@1"] > dense["recall_any@1"]


def test_lexical_coverage_weighs_rare_words_and_fusion_breaks_ties_by_recency() -> None:
    texts = {"a": "my order 41234 is late", "b": "my order 55555 is late", "c": "the kettle is lovely"}
    coverage = lexical_coverage("where is order 55555", texts)
    assert set(coverage) == {"a", "b"} and coverage["b"] > coverage["a"]
    ranked = fuse_scores({"a": 0.5, "b": 0.5}, {}, {"a": "2025-01-01", "b": "2025-02-01"}, floor=0.5)
    assert ranked == ["b", "a"]  # equal scores: the newer memory first


def test_bad_dev_file_and_bad_k_name_the_problem(tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps({"id": "x", "turns": [], "questions": [{"question": "q", "evidence": ["t9"]}]}) + "\n")
    with pytest.raises(RapportError, match="bad.jsonl:1"):
        read_dev_set(bad)
    with pytest.raises(RapportError, match="--k"):
        parse_ks("1,five")
    assert parse_ks("10,1,5") == (10, 1, 5)


async def _memory_with_turns(folder: Path, texts: list[str]):
    """A real SQLite + Chroma memory holding one customer's turns, all with the same vector:
    to the embedding they are one memory, so only the words can keep them apart."""
    import numpy as np

    from bot.store.database import Database
    from bot.store.memory import CustomerMemory, shard_names, turn_source
    from bot.store.migrations import ensure_schema
    from bot.store.tables import Customer, Turn
    from bot.store.vectors import VectorStore

    database = Database("", folder)
    await ensure_schema(database, auto_upgrade=True)
    vectors = VectorStore.open("", folder, "test-embedder", 8)
    memory = CustomerMemory([await vectors.collection(n) for n in shard_names(1)], database)
    async with database.session() as session:
        customer = Customer(name="Ana", external_id="t:ana")
        session.add(customer)
        await session.commit()
        rows = [Turn(customer_id=customer.id, conversation="c", platform="t", role="customer", text=t,
                     message_id=f"m{n}") for n, t in enumerate(texts)]
        session.add_all(rows)
        await session.commit()
    same = np.ones(8, dtype=np.float32) / np.sqrt(8)
    return database, memory, customer.id, rows, same, turn_source


@pytest.mark.parametrize("one_batch", [False, True])
async def test_near_duplicate_merging_keeps_the_turn_that_carries_a_fact(tmp_path: Path, one_batch: bool) -> None:
    texts = ["my order is late", "my order 41233 is late", "my order 41234 is late", "my order 41234 is late"]
    database, memory, customer_id, rows, same, turn_source = await _memory_with_turns(tmp_path, texts)
    try:
        for n, row in enumerate(rows):
            memory.remember(customer_id, turn_source(row.id), row.text, same, "c", row.created_at)
            if n == 0 or not one_batch:  # with one_batch, the three later turns are written together
                await memory.flush()
        await memory.flush()
        stored = await memory.shard(customer_id).metadatas({"customer_id": customer_id})
        recalled = {m.text: m.mentions for m in await memory.recall(customer_id, same, 10)}
    finally:
        await memory.close()
        await database.engine.dispose()
    # Both order numbers are still recalled. "my order is late" says nothing the later turns do not,
    # so it is merged away, and the same words said twice are one memory mentioned twice.
    assert len(stored) == 2
    assert set(recalled) == {"my order 41233 is late", "my order 41234 is late"}
    assert recalled["my order 41234 is late"] == 2
