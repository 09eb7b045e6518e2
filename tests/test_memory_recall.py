"""Hybrid memory recall: BM25 over each memory's words plus those of the turns said just before it,
fused with the cosine; through the real SQLite + Chroma memory as well as the pure functions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np

from bot.store.memory import bm25_scores, fuse_scores, memory_documents

T0 = datetime(2025, 3, 1, 10, 0, tzinfo=UTC)


def iso(seconds: float) -> str:
    return (T0 + timedelta(seconds=seconds)).isoformat()


def test_a_reply_borrows_the_words_of_the_turns_just_before_it() -> None:
    texts = {"a": "I like the idea of Montana", "b": "dude I would kinda like it", "c": "yeah for sure",
             "d": "it is cold there", "e": "Montana in winter, never again"}
    at = {"a": iso(0), "b": iso(20), "c": iso(40), "d": iso(400), "e": iso(10)}
    conversations = {"a": "x", "b": "x", "c": "x", "d": "x", "e": "other"}
    documents = memory_documents(texts, at, conversations)
    assert documents["b"]["montana"] == 1  # from a, 20 s before it
    assert documents["c"]["montana"] == 1  # two turns back still lends
    assert documents["d"]["montana"] == 0  # 400 s after c, outside the 300 s window
    assert documents["a"]["montana"] == 1 and "dude" not in documents["a"]  # words flow forward only
    # "e" was said in another conversation in between: it neither lends to nor borrows from "x".
    assert documents["b"]["winter"] == 0 and documents["e"]["idea"] == 0
    scores = bm25_scores("would it be cool to go to school in montana?", documents)
    assert set(scores) >= {"a", "b", "c", "e"} and "d" not in scores
    # b says "would" and borrows "montana": two query words, the best; c borrows both, in a longer
    # document; a and e hold "montana" alone.
    assert scores["b"] == 1.0 > scores["c"] > scores["a"] == scores["e"]


def test_without_context_or_times_a_memory_is_its_own_words() -> None:
    texts = {"a": "order 41233 is late", "b": "it was a gift"}
    assert memory_documents(texts, {"a": iso(0), "b": iso(5)}, {}, before=0)["b"]["41233"] == 0
    assert memory_documents(texts, {"a": "", "b": iso(5)}, {})["b"]["41233"] == 0  # no time: lends nothing
    assert bm25_scores("where is 41233", memory_documents(texts, {}, {})) == {"a": 1.0}
    assert bm25_scores("the and of", memory_documents(texts, {}, {})) == {}  # stopwords only


async def test_recall_with_text_ranks_the_follow_up_of_a_matching_turn(tmp_path: Path) -> None:
    from bot.store.database import Database
    from bot.store.memory import CustomerMemory, shard_names, turn_source
    from bot.store.migrations import ensure_schema
    from bot.store.tables import Customer, Turn
    from bot.store.vectors import VectorStore

    database = Database("", tmp_path)
    await ensure_schema(database, auto_upgrade=True)
    vectors = VectorStore.open("", tmp_path, "test-embedder", 8)
    memory = CustomerMemory([await vectors.collection(n) for n in shard_names(1)], database)
    said = [("my order 41233 is late", 0), ("it was a birthday gift for my mum", 30),
            ("my order 52001 arrived fine", 86_400), ("thanks, all good now", 86_430)]
    try:
        async with database.session() as session:
            customer = Customer(name="Ana", external_id="t:ana")
            session.add(customer)
            await session.commit()
            rows = [Turn(customer_id=customer.id, conversation="c", platform="t", role="customer", text=text,
                         message_id=f"m{n}", created_at=T0 + timedelta(seconds=offset))
                    for n, (text, offset) in enumerate(said)]
            session.add_all(rows)
            await session.commit()
        # Orthogonal vectors, so no turn is merged into another and the cosine ties them all.
        for n, row in enumerate(rows):
            vector = np.zeros(8, dtype=np.float32)
            vector[n] = 1.0
            memory.remember(customer.id, turn_source(row.id), row.text, vector, "c", row.created_at)
        await memory.flush()
        probe = np.ones(8, dtype=np.float32) / np.sqrt(8)
        hybrid = [m.text for m in await memory.recall(customer.id, probe, 4, text="any news about 41233?")]
        dense = [m.text for m in await memory.recall(customer.id, probe, 4)]
    finally:
        await memory.close()
        await database.engine.dispose()
    # The turn naming the order, then what the customer said right after it, then the rest newest first.
    assert hybrid == ["my order 41233 is late", "it was a birthday gift for my mum",
                      "thanks, all good now", "my order 52001 arrived fine"]
    assert sorted(dense) == sorted(hybrid)


def test_fusion_keeps_the_cosine_in_charge_at_the_run_time_weight() -> None:
    # A full BM25 match (1.0) is worth 0.05 of cosine: it lifts a close second, not a distant one.
    cosine = {"near": 0.62, "close": 0.60, "far": 0.50}
    assert fuse_scores(cosine, {"close": 1.0}, {}, floor=0.5)[0] == "close"
    assert fuse_scores(cosine, {"far": 1.0}, {}, floor=0.5)[0] == "near"
