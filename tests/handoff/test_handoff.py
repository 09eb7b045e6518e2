"""Handoff to a person and back: atomic, silent while a person has it, nothing doubled or lost."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from sqlmodel import select

from bot.config import Config
from bot.handoff.book import HandoffBook
from bot.runtime import Runtime
from bot.store import migrations
from bot.store.database import Database
from bot.store.records import HandoffRecord
from bot.store.tables import Customer, FeedbackRecord, Handoff, Turn
from bot.types import Reply
from tests.recording import RecordingAdapter

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class RecordingDesk:
    announced: list[str] = field(default_factory=list)
    forwarded: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    async def announce(self, handoff: HandoffRecord, summary: str) -> str:
        self.announced.append(summary)
        return f"thread-{handoff.id}"

    async def forward(self, handoff: HandoffRecord, text: str) -> None:
        self.forwarded.append(text)

    async def note(self, handoff: HandoffRecord, text: str) -> None:
        self.notes.append(text)


@pytest.fixture
async def runtime(repo_config: Config, data_dir: Path) -> AsyncIterator[Runtime]:
    """Built as the composition root builds it: with the agents' desk, from the start."""
    async with Runtime.open(repo_config, data_dir, desk=RecordingDesk()) as opened:
        yield opened


def wire(runtime: Runtime) -> tuple[RecordingAdapter, RecordingDesk]:
    """The test platform, registered as its sender: agents' replies reach it through the outbox. It shows
    turns' replies itself (as the terminal does), so those are marked delivered and never sent twice."""
    adapter = RecordingAdapter(runtime.delivery.answer_inline)
    runtime.delivery.add_sender(adapter.platform, adapter.send)
    assert isinstance(runtime.desk.desk, RecordingDesk)
    return adapter, runtime.desk.desk


async def open_handoff(runtime: Runtime) -> Handoff:
    async with runtime.database.session() as session:
        return (await session.exec(select(Handoff))).one()


async def test_full_handoff_round_trip(runtime: Runtime) -> None:
    adapter, desk = wire(runtime)
    asked = await adapter.say("I want to talk to a person", user="U1", name="Ana Silva")
    assert asked is not None and asked.handoff is not None and asked.handoff.reason == "customer asked for a person"
    (summary,) = desk.announced
    assert "Ana Silva" in summary and "rule: asked_for_person" in summary and "customer: I want to talk to a person" in summary
    handoff = await open_handoff(runtime)
    assert handoff.desk_ref == f"thread-{handoff.id}" and handoff.rule == "asked_for_person"

    waiting = await adapter.say("hello? is anyone there?", user="U1", name="Ana Silva")
    assert waiting is None  # the bot stays silent
    assert desk.forwarded == ["hello? is anyone there?"]

    await runtime.desk.agent_message(handoff.id, "sam", "Hi Ana, Sam here. Looking now.", "desk-msg-1")
    assert [r.text for r in adapter.sent][-1] == "Hi Ana, Sam here. Looking now."
    assert await adapter.say("thanks Sam", user="U1", name="Ana Silva") is None  # still the human's conversation

    resolved = await runtime.desk.agent_resolve(handoff.id, "sam")
    assert resolved.ok
    csat = adapter.sent[-1]
    assert "Rate us from 1 (poor) to 5 (great)" in csat.text
    assert [s.text for s in csat.suggestions] == [f"/csat {n}" for n in range(1, 6)]

    rated = await adapter.say("/csat 4", user="U1", name="Ana Silva")
    assert rated is not None and "Thank you" in rated.text
    answered = await adapter.say("how long does shipping take?", user="U1", name="Ana Silva")
    assert answered is not None and answered.sources  # the bot answers again
    async with runtime.database.session() as session:
        scores = (await session.exec(select(FeedbackRecord.value).where(FeedbackRecord.kind == "csat"))).all()
        roles = (await session.exec(select(Turn.role).order_by(Turn.id))).all()
    assert scores == ["4"]
    assert roles.count("agent") == 1


async def test_two_agents_claiming_at_once_one_wins(database_url: str, tmp_path: Path) -> None:
    database = Database(database_url, tmp_path)
    await migrations.upgrade(database)
    try:
        async with database.session() as session:
            customer = Customer(name="Kim")
            session.add(customer)
            await session.flush()
            handoff = Handoff(customer_id=customer.id, conversation="test:W:D1:", reason="asked")
            session.add(handoff)
            await session.commit()
            await session.refresh(handoff)
        book = HandoffBook(database)
        results = await asyncio.gather(*(book.claim(handoff.id, f"agent-{n}") for n in range(6)))
        winners = [r for r in results if r.ok]
        assert len(winners) == 1
        owner = winners[0].handoff.agent
        assert all(f"already human by {owner}" in r.reason for r in results if not r.ok)
        assert (await book.claim(handoff.id, owner)).ok  # the owner may claim again
    finally:
        await database.close()


async def test_agent_message_redelivered_is_relayed_once_and_a_second_agent_cannot_speak(runtime: Runtime) -> None:
    adapter, desk = wire(runtime)
    await adapter.say("talk to a human please", user="U2", name="Ben")
    handoff = await open_handoff(runtime)
    sent_before = len(adapter.sent)
    await asyncio.gather(*(runtime.desk.agent_message(handoff.id, "sam", "On it!", "desk-7") for _ in range(4)))
    assert [r.text for r in adapter.sent[sent_before:]] == ["On it!"]
    refused = await runtime.desk.agent_message(handoff.id, "lee", "Me too!", "desk-8")
    assert not refused.ok and "Me too!" not in [r.text for r in adapter.sent]
    assert any("lee: not sent" in note for note in desk.notes)


async def test_restart_during_handoff_keeps_the_bot_silent_and_relays_once(repo_config: Config, data_dir: Path) -> None:
    async with Runtime.open(repo_config, data_dir, desk=RecordingDesk()) as first:
        adapter, _ = wire(first)
        await adapter.say("I need a real person", user="U3", name="Cy")
        handoff = await open_handoff(first)
        await first.desk.agent_message(handoff.id, "sam", "Hello Cy", "desk-20")
    async with Runtime.open(repo_config, data_dir, desk=RecordingDesk()) as second:
        adapter, desk = wire(second)
        assert await adapter.say("are you still there?", user="U3", name="Cy") is None
        assert desk.forwarded == ["are you still there?"]
        await second.desk.agent_message(handoff.id, "sam", "Hello Cy", "desk-20")  # the desk redelivers after restart
        await second.desk.agent_message(handoff.id, "sam", "Yes, still here", "desk-21")
        assert [r.text for r in adapter.sent] == ["Yes, still here"]


@pytest.mark.parametrize(
    ("messages", "rule"),
    [
        (["My refund still hasn't arrived, this is awful.", "Return shipping is terribly expensive, I hate it.",
          "I am so angry, my payment was declined again!"], "negative_trend"),
        (["what's the weather on Mars?", "who won the world cup?", "what's the capital of Peru?"], "unresolved_repeats"),
        (["I will take legal action over this"], "intent:legal"),
        (["please close my account"], "intent:cancel_account"),
    ],
)
async def test_escalation_rules_record_which_rule_fired(runtime: Runtime, messages: list[str], rule: str) -> None:
    adapter, _ = wire(runtime)
    replies = [await adapter.say(text, user="U4", name="Dee") for text in messages]
    assert replies[-1] is not None and replies[-1].handoff is not None
    assert all(r is not None and r.handoff is None for r in replies[:-1])
    assert (await open_handoff(runtime)).rule == rule


async def test_an_unhappy_vip_goes_straight_to_a_person(runtime: Runtime) -> None:
    adapter, _ = wire(runtime)
    await adapter.say("hi", user="U5", name="Vee")
    async with runtime.database.session() as session:
        vee = (await session.exec(select(Customer).where(Customer.name == "Vee"))).one()
        vee.attributes = {"loyalty_tier": "Summit"}
        session.add(vee)
        await session.commit()
    reply = await adapter.say("This is terrible, my order is a mess.", user="U5", name="Vee")
    assert reply is not None and reply.handoff is not None
    assert (await open_handoff(runtime)).rule == "vip_unhappy"


def test_console_handoff_round_trip_in_json(data_dir: Path) -> None:
    script = "I want to talk to a person\nhello?\n/agent Hi, Sam here.\n/agent resolve\n5\nhow long does shipping take?\n"
    result = subprocess.run([sys.executable, "-m", "bot", "chat", "--json", "--data-dir", str(data_dir)],
                            input=script, capture_output=True, text=True, cwd=ROOT, timeout=180)
    assert result.returncode == 0, result.stderr
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert all(line["type"] in {"reply", "desk", "notice"} for line in lines)
    replies = [line for line in lines if line["type"] == "reply"]
    desk = [line["text"] for line in lines if line["type"] == "desk"]
    assert [line["event"] for line in lines if line["type"] == "desk"][:2] == ["handoff_opened", "customer_wrote"]
    assert [line for line in lines if line["type"] == "notice"][0]["text"].startswith("no bot reply")
    assert replies[0]["handoff"] == {"reason": "customer asked for a person", "status": "pending"}
    assert "hello?" in desk  # no bot answer to it; the desk sees it
    assert [r["text"] for r in replies[1:3]] == ["Hi, Sam here.", replies[2]["text"]]
    assert "Rate us from 1" in replies[2]["text"]
    assert "Thank you" in replies[3]["text"]
    assert replies[4]["sources"][0]["path"] == "knowledge/pages/shipping.md"


def test_reply_type_is_what_agents_send() -> None:
    assert Reply.__dataclass_fields__["ask_feedback"].default is True


async def test_a_desk_outage_loses_no_reply_and_the_handoff_is_announced_later(runtime: Runtime) -> None:
    adapter, desk = wire(runtime)
    real_announce = desk.announce

    async def down(handoff: Handoff, summary: str) -> str:
        raise ConnectionError("Slack is down")

    desk.announce = down  # type: ignore[method-assign]
    asked = await adapter.say("I want to talk to a person", user="U6", name="Eve")
    assert asked is not None and asked.handoff is not None  # the customer is still told
    assert desk.announced == []
    desk.announce = real_announce  # type: ignore[method-assign]
    assert await adapter.say("hello?", user="U6", name="Eve") is None
    assert len(desk.announced) == 1 and desk.forwarded == ["hello?"]
    assert (await open_handoff(runtime)).desk_ref.startswith("thread-")


async def test_one_customers_handoff_in_a_shared_thread_neither_silences_nor_forwards_another(
    runtime: Runtime,
) -> None:
    """A shared Slack Connect thread: Dana asked for a person; Eli, in the same thread, still gets the bot
    (before, Dana's open handoff silenced him and sent his words to her agent)."""
    adapter = RecordingAdapter(runtime.engine.handle)
    where = {"channel": "C-SHARED", "thread": "1700.1"}
    assert (await adapter.say("I want to talk to a person", user="U-dana", **where)).handoff is not None
    assert await adapter.say("are you still there?", user="U-dana", **where) is None  # a person has Dana
    eli = await adapter.say("how long does shipping take?", user="U-eli", **where)
    assert eli is not None and "business days" in eli.text
