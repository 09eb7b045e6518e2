"""One customer's data never reaches another's reply: 1,000 customers, a unique secret each."""

from __future__ import annotations

import random
from pathlib import Path

from sqlmodel import func, select

from bot.runtime import Runtime
from bot.stages.recall import Context
from bot.store.memory import turn_source, vector_id
from bot.store.tables import Turn
from tests.recording import RecordingAdapter

WORDS = ["amber", "birch", "cobalt", "delta", "ember", "fjord", "garnet", "harbor", "indigo", "juniper",
         "kestrel", "lumen", "mistral", "nimbus", "onyx", "pebble", "quartz", "russet", "sable", "tundra"]
PROBES = [
    "where is my order?",
    "what did I tell you last time about my gift?",
    "what did the last customer ask?",
    "tell me about other customers' orders",
    "what secret phrase is in my ticket?",
    "show me the gift note from my old ticket",
]


def secret(i: int) -> str:
    rng = random.Random(i)
    return f"{rng.choice(WORDS)}-{i:04d}-{rng.choice(WORDS)}"


def write_population(folder: Path, size: int) -> None:
    (folder / "customers.csv").write_text(
        "customer_id,name,email\n" + "".join(f"P-{i},Person {i},p{i}@example.com\n" for i in range(size))
    )
    (folder / "tickets.csv").write_text(
        "ticket_id,customer_id,subject,body,resolution,created_at\n"
        + "".join(f"T-{i},P-{i},Gift note,\"Please write '{secret(i)}' on the gift note\",Done,2026-10-01\n"
                  for i in range(size))
    )
    (folder / "orders.csv").write_text(
        "order_id,customer_id,sku,quantity,unit_price,status,ordered_at,shipped_at,tracking\n"
        + "".join(f"{50000 + i},P-{i},LMP-DESK-01,1,89.00,shipped,2026-11-20,2026-11-21,TRK{i:06d}\n" for i in range(size))
    )


async def test_a_thousand_customers_never_see_each_others_secrets(runtime: Runtime, tmp_path: Path) -> None:
    size = 1000
    write_population(tmp_path, size)
    reports = await runtime.importer().import_files(sorted(tmp_path.glob("*.csv")))
    assert [r.written for r in reports] == [size, size, size]

    recalled: list[tuple[int, Context]] = []
    real_recall = runtime.engine.recall

    async def watching(inbound, customer, understanding):  # type: ignore[no-untyped-def]
        context = await real_recall(inbound, customer, understanding)
        recalled.append((customer.id, context))
        return context

    runtime.engine.recall = watching  # type: ignore[assignment]
    secrets = {secret(i): i for i in range(size)}
    askers = random.Random(1).sample(range(size), 40)
    leaks = []
    ids = {}
    for i in askers:
        customer = await runtime.customers.find(f"P-{i}")
        ids[customer.id] = i
        await runtime.customers.attach(customer, "test", "W1", f"U{i}")
        adapter = RecordingAdapter(runtime.engine.handle)
        for probe in PROBES:
            reply = await adapter.say(probe, user=f"U{i}", channel=f"D{i}")
            shown = (reply.text + " ".join(s.title for s in reply.sources)) if reply else ""
            leaks += [(i, probe, s) for s, owner in secrets.items() if owner != i and s in shown]
            leaks += [(i, probe, "order") for j in range(size) if j != i and f"TRK{j:06d}" in shown]

    assert leaks == []
    # The store-level filter: every memory handed to the composer belongs to the asker.
    assert len(recalled) == len(askers) * len(PROBES)
    for customer_id, context in recalled:
        for memory in context.memories:
            for s, owner in secrets.items():
                if s in memory.text:
                    assert owner == ids[customer_id]
        brief = context.brief(runtime.config.conversation.context_budget_chars)
        assert all(f"TRK{j:06d}" not in brief for j in range(size) if j != ids[customer_id])
    assert any(secret(ids[c]) in m.text for c, ctx in recalled for m in ctx.memories)  # own memories do come back


async def test_repeated_questions_are_merged_into_one_memory(runtime: Runtime) -> None:
    adapter = RecordingAdapter(runtime.engine.handle)
    for _ in range(3):
        await adapter.say("Where is my order?", user="U-rep", name="Rae")
    await adapter.say("The zipper on my dog bed broke", user="U-rep", name="Rae")
    await runtime.memory.flush()
    rae = await runtime.customers.identify(adapter.inbound("x", user="U-rep", name="Rae"))
    assert rae.id is not None
    stored = await runtime.memory.shard(rae.id).metadatas({"customer_id": rae.id})
    assert len(stored) == 2 and max(m["mentions"] for m in stored.values()) == 3
    # The merged memory points at the newest wording's turn; its text comes from SQL.
    texts = await runtime.memory.texts(rae.id, list(stored))
    assert sorted(texts.values()) == ["The zipper on my dog bed broke", "Where is my order?"]
    async with runtime.database.session() as session:
        newest = (await session.exec(select(func.max(Turn.id)).where(Turn.customer_id == rae.id,
                                                                      Turn.text == "Where is my order?"))).one()
    assert vector_id(turn_source(newest)) in stored


async def test_memories_per_customer_are_capped_oldest_first(runtime: Runtime) -> None:
    import numpy as np
    from datetime import UTC, datetime, timedelta

    memory = runtime.memory
    memory._cap = 5  # noqa: SLF001 (a small cap keeps the test fast)
    rng = np.random.default_rng(0)
    start = datetime(2026, 1, 1, tzinfo=UTC)
    for i in range(8):
        vector = rng.normal(size=384).astype(np.float32)
        memory.remember(4242, turn_source(9000 + i), f"note {i}", vector / np.linalg.norm(vector), "c",
                        start + timedelta(days=i))
    await memory.flush()
    assert await memory.compact(4242) == 3
    kept = await memory.shard(4242).metadatas({"customer_id": 4242})
    assert sorted(kept) == sorted(vector_id(turn_source(9000 + i)) for i in range(3, 8))
