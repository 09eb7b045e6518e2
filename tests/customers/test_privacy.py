"""Export gives a customer everything stored about them; forget removes it from every store."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from sqlalchemy import inspect, text

from bot.runtime import Runtime
from tests.recording import RecordingAdapter

ROOT = Path(__file__).resolve().parents[2]


async def scan_sql(runtime: Runtime, needles: list[str]) -> list[str]:
    """Every table, every row, every column rendered as text: where do the needles still appear?"""
    found = []
    async with runtime.database.engine.connect() as connection:
        tables = await connection.run_sync(lambda c: inspect(c).get_table_names())
        for table in tables:
            for row in (await connection.execute(text(f'SELECT * FROM "{table}"'))).all():
                rendered = " ".join(str(v) for v in row)
                found += [f"{table}: {needle}" for needle in needles if needle in rendered]
    return found


async def scan_vectors(runtime: Runtime, needles: list[str], customer_id: int) -> list[str]:
    found = []
    for name in await runtime.vectors.names():
        for vector_id, document, meta in await (await runtime.vectors.collection(name)).documents():
            rendered = f"{vector_id} {document} {json.dumps(meta)}"
            found += [f"{name}: {needle}" for needle in needles if needle in rendered]
            if meta.get("customer_id") == customer_id:
                found.append(f"{name}: vector {vector_id} of customer {customer_id}")
    return found


async def test_forget_leaves_no_row_and_no_vector_that_mentions_the_customer(sampled: Runtime) -> None:
    ana = await sampled.customers.find("C-1001")
    await sampled.customers.attach(ana, "test", "W1", "U-ana")
    adapter = RecordingAdapter(sampled.engine.handle)
    await adapter.say("my order 1042 lamp is for the blue heron lover", user="U-ana", channel="DA")
    await adapter.say("I'm vegan", user="U-ana", channel="DA")
    await sampled.memory.flush()
    needles = ["Ana Silva", "ana.silva@example.com", "C-1001", "blue heron", "NW20261124042", "U-ana"]
    assert await scan_sql(sampled, needles)  # the scan does see her before the delete
    assert ana.id is not None and await scan_vectors(sampled, ["blue heron"], ana.id)

    result = subprocess.run(
        [sys.executable, "-m", "bot", "customer", "forget", "C-1001", "--yes", "--data-dir", str(sampled.data_dir)],
        capture_output=True, text=True, cwd=ROOT, timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert await scan_sql(sampled, needles) == []
    assert await scan_vectors(sampled, needles, ana.id) == []


async def test_forget_in_chat_asks_first_then_deletes(sampled: Runtime) -> None:
    # Through the delivery, as the terminal does: each reply is marked delivered, so the outbox keeps no body.
    adapter = RecordingAdapter(sampled.delivery.answer_inline)
    await adapter.say("I ordered a tent, my name is on it", user="U-zed", name="Zed Quill")
    early = await adapter.say("/forget confirm", user="U-zed", name="Zed Quill")
    assert early is not None and "To confirm, send /forget confirm" in early.text  # no request yet: ask
    ask = await adapter.say("/forget", user="U-zed", name="Zed Quill")
    assert ask is not None and "permanently deletes" in ask.text
    done = await adapter.say("/forget confirm", user="U-zed", name="Zed Quill")
    assert done is not None and "has been deleted" in done.text
    await sampled.memory.flush()
    assert await scan_sql(sampled, ["Zed Quill", "U-zed", "tent, my name"]) == []


async def test_export_holds_profile_orders_tickets_turns_and_memories(sampled: Runtime) -> None:
    ana = await sampled.customers.find("C-1001")
    await sampled.customers.attach(ana, "test", "W1", "U-ana")
    adapter = RecordingAdapter(sampled.engine.handle)
    await adapter.say("where is my order?", user="U-ana", channel="DA")
    reply = await adapter.say("/export", user="U-ana", channel="DA")
    assert reply is not None and len(reply.files) == 1
    data = json.loads(reply.files[0].content)
    assert data["customer"]["email"] == "ana.silva@example.com"
    assert {o["order_id"] for o in data["orders"]} == {"1042", "1022", "999"}
    assert any("blue heron" in t["body"] for t in data["ticket"])
    assert any(t["text"] == "where is my order?" for t in data["turn"])
    assert any("blue heron" in m["text"] for m in data["memories"])
    assert "where is my order?" in [m["text"] for m in data["memories"]]  # the turn a moment ago, too
    assert all(m["customer_id"] == ana.id for m in data["memories"])
