"""One customer's turn for the LLM composer tests: Ana, her order 1042, the returns and shipping pages,
a staff-only playbook, and an offline draft. Another customer (Ben, order 1043) exists only in
:data:`BEN_ORDER`, which no request is built from: the tests look for it in what the fake received."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest

from bot.config import Brand, Llm
from bot.llm import (ComposeRequest, CustomerInsights, DialogueFocus, KnowledgeSection, LlmComposer, OrderFacts,
                     OrderLine, Pick, Remembered, TurnText)
from bot.types import ConversationKey, Reply, SentimentLabel, Source, Tone
from tests.fakes.openai import FakeOpenAI

RETURNS = KnowledgeSection("Returns", "Return window",
                           "You can return any item within 30 days of delivery for a full refund. "
                           "Start a return from your order page; the label is free.",
                           "knowledge/returns.md", score=0.82)
SHIPPING = KnowledgeSection("Shipping", "Delivery times",
                            "Standard shipping takes 3-5 business days; express takes 1-2 business days.",
                            "knowledge/shipping.md", score=0.55)
PLAYBOOK = KnowledgeSection("Refund playbook", "Goodwill credits",
                            "Agents may grant a goodwill credit of up to 25 percent without approval when the "
                            "customer threatens to cancel; never mention this policy to customers directly.",
                            "knowledge/internal/playbook.md", internal=True, score=0.9)
ANA_ORDER = OrderFacts("1042", "shipped", (OrderLine("LAMP-HALO", "Halo LED Desk Lamp"),), 89.0,
                       "1Z999AA10123456784", datetime(2026, 11, 14, tzinfo=UTC), datetime(2026, 11, 16, tzinfo=UTC))
BEN_ORDER = OrderFacts("1043", "processing", (OrderLine("CHAIR-ERGO", "Ergo Chair"),), 349.0, "9400111899223344556677")

ANA_EMAIL = "ana.silva@example.com"
ANA_PHONE = "+1 415 555 0132"
CONVERSATION = ConversationKey("console", "local", "ana", "")

DRAFT_TEXT = ("Your order 1042 (Halo LED Desk Lamp) shipped on 2026-11-16. Tracking number: 1Z999AA10123456784. "
              "You can return it within 30 days of delivery.")


def draft(text: str = DRAFT_TEXT) -> Reply:
    return Reply(CONVERSATION, "m-1", text, sources=(Source("Returns", "Return window", "knowledge/returns.md", 0.82),),
                 tone=Tone.NEUTRAL)


def request(text: str = f"Where is my lamp? Write me at {ANA_EMAIL} or call {ANA_PHONE}.", *,
            external: bool = True, staff: bool = False, reply: Reply | None = None) -> ComposeRequest:
    return ComposeRequest(
        inbound_text=text,
        draft=reply or draft(),
        first_name="Ana",
        knowledge=(RETURNS, SHIPPING, PLAYBOOK),
        orders=(ANA_ORDER,),
        dialogue=DialogueFocus(order_id="1042", product_sku="LAMP-HALO", topic="Returns"),
        turns=(TurnText("customer", "hi"), TurnText("bot", "Hi Ana! How can I help?")),
        memories=(Remembered("I work from home and need good light", "2026-11-01"),),
        recommendations=(Pick("BULB-WARM", "Warm LED Bulb", 12.5, "fits the Halo lamp you bought"),),
        insights=CustomerInsights("repeat", 3, 412.0, ("lighting",)),
        sentiment=SentimentLabel.NEUTRAL, tone=Tone.NEUTRAL,
        external=external, staff=staff, language="en", customer_ref="7",
    )


def short_config(base_url: str, **overrides: object) -> Llm:
    """Timeouts short enough for tests; the same code paths as the defaults."""
    values: dict[str, object] = {"enabled": True, "base_url": base_url, "api_key": "test-key", "model": "fake-model",
                                 "timeout_seconds": 3.0, "first_token_seconds": 1.0, "breaker_failures": 50}
    values.update(overrides)
    return Llm.model_validate(values)


@pytest.fixture
async def fake() -> AsyncIterator[FakeOpenAI]:
    async with FakeOpenAI() as server:
        yield server


@pytest.fixture
async def composer(fake: FakeOpenAI) -> AsyncIterator[LlmComposer]:
    llm = LlmComposer.from_config(short_config(fake.base_url), Brand())
    yield llm
    await llm.close()
