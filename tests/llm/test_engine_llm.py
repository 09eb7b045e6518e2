"""The LLM compose stage inside the real engine, with the shipped sample customers and knowledge: what the
fake server received for Ana's turns, and what Ana reads. The stage is put in place the way the runtime
will (a new Engine with ``compose`` replaced), not by patching the runtime's engine."""

from __future__ import annotations

import dataclasses
import html
from collections.abc import AsyncIterator

import pytest

from bot.config import Config
from bot.llm import LlmComposer
from bot.llm.brief import DRAFT_LEAD
from bot.llm.stage import LlmComposeStage
from bot.runtime import Runtime
from tests.customers.conftest import sampled  # noqa: F401  (the shipped sample customers)
from tests.fakes.openai import Answer, FakeOpenAI, Recorded, Status
from tests.llm.conftest import short_config
from tests.recording import RecordingAdapter


def rewrite_the_draft(request: Recorded) -> Answer:
    """A model that rewords nothing: it answers with the draft it was shown, after a greeting of its own."""
    user = request.messages[1]["content"]
    draft = html.unescape(user.split(DRAFT_LEAD, 1)[1].split("\n</data>", 1)[0])
    return Answer(f"Sure thing! {draft}")


@pytest.fixture
async def ana(sampled: Runtime, repo_config: Config, fake: FakeOpenAI) -> AsyncIterator[RecordingAdapter]:  # noqa: F811
    fake.default = rewrite_the_draft
    llm = LlmComposer.from_config(short_config(fake.base_url), repo_config.brand)
    stage = LlmComposeStage(sampled.engine.compose, llm, repo_config.brand, set(repo_config.admins))
    engine = dataclasses.replace(sampled.engine, compose=stage)
    customer = await sampled.customers.find("ana.silva@example.com")
    await sampled.customers.attach(customer, "test", "W1", "U-ana")
    yield RecordingAdapter(engine.handle)
    await stage.close()


async def test_the_reply_is_the_models_and_the_request_holds_her_order_and_the_section(
        ana: RecordingAdapter, fake: FakeOpenAI) -> None:
    reply = await ana.say("where is my order 1042? reach me at ana.work@example.org or +1 415 555 0132",
                          user="U-ana", channel="DA")

    assert reply is not None and reply.text.startswith("Sure thing!") and "1042" in reply.text
    sent = fake.requests[-1].text
    assert "order 1042: shipped" in sent and "NW20261124042" in sent
    assert "ana.work@example.org" not in sent and "415 555 0132" not in sent and "[EMAIL_1]" in sent
    assert "1043" not in sent and "Dog Food" not in sent  # Ben's order

    follow = await ana.say("can I return it?", user="U-ana", channel="DA")

    assert follow is not None and follow.text.startswith("Sure thing!")
    sent = fake.requests[-1].text
    assert "knowledge/pages/returns.md" in [s.path for s in follow.sources]
    assert "Returns" in sent and "[1] " in sent and "order 1042" in sent


async def test_commands_and_exports_keep_the_offline_words(ana: RecordingAdapter, fake: FakeOpenAI) -> None:
    reply = await ana.say("/export", user="U-ana", channel="DA")

    assert reply is not None and reply.files and not reply.text.startswith("Sure thing!")
    assert fake.requests == []


async def test_a_bug_inside_the_llm_composer_still_gets_ana_the_offline_reply(
        ana: RecordingAdapter, fake: FakeOpenAI, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken_brief(*args: object, **kwargs: object) -> object:
        raise KeyError("a bug in the brief builder")

    monkeypatch.setattr("bot.llm.brief.BriefBuilder.build", broken_brief)
    reply = await ana.say("where is my order 1042?", user="U-ana", channel="DA")
    assert reply is not None and "1042" in reply.text and not reply.text.startswith("Sure thing!")


async def test_a_german_customer_is_answered_in_german_and_the_fallback_is_unchanged(
        ana: RecordingAdapter, fake: FakeOpenAI) -> None:
    # The engine's own detector (bot/nlp/language.py) decides the language; the model is asked for it.
    reply = await ana.say("Wie lange dauert der Versand nach Deutschland? Ich brauche die Lampe bald.",
                          user="U-ana", channel="DA")

    system = fake.requests[-1].messages[0]["content"]
    assert reply is not None and reply.text.startswith("Sure thing!")
    assert "Reply in the customer's language (German, de)" in system and "write in German" in system

    fake.default = Status(500)
    offline = await ana.say("Wie lange dauert der Versand nach Deutschland? Ich brauche die Lampe bald.",
                            user="U-ana", channel="DA")

    assert offline is not None and not offline.text.startswith("Sure thing!")
    assert offline.text.startswith("Unsere Antworten gibt es auf Englisch")  # the offline composer's German
