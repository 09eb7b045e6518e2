"""Structured output: the action (answer / clarify / hand off) with the text where the server supports
json_schema; plain text where it does not (remembered per endpoint after one 400) or where it ignores it."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import pytest

from bot.config import Brand
from bot.handlers.base import PERSON
from bot.llm import LlmComposer
from bot.llm.client import parse_reply
from bot.llm.grounding import Check
from tests.fakes.openai import Answer, FakeOpenAI, Status
from tests.llm.conftest import DRAFT_TEXT, request, short_config


def structured(action: str, text: str) -> Answer:
    return Answer(json.dumps({"action": action, "text": text}))


@pytest.fixture(params=[True, False], ids=["streamed", "plain"])
async def llm(fake: FakeOpenAI, request: pytest.FixtureRequest) -> AsyncIterator[LlmComposer]:
    composer = LlmComposer.from_config(short_config(fake.base_url, stream=request.param), Brand())
    yield composer
    await composer.close()


async def test_the_action_is_asked_for_and_read(fake: FakeOpenAI, llm: LlmComposer) -> None:
    fake.script(structured("answer", "Your lamp (order 1042) is on its way [1]."))

    result = await llm.compose_detailed(request())

    schema = fake.requests[0].body["response_format"]
    assert schema["type"] == "json_schema"
    assert schema["json_schema"]["schema"]["properties"]["action"]["enum"] == ["answer", "clarify", "hand_off"]
    assert result.by_model and result.action == "answer"
    assert result.reply.text == "Your lamp (order 1042) is on its way."
    assert [s.title for s in result.reply.sources] == ["Returns"]


async def test_a_hand_off_is_only_the_offer_of_a_person(fake: FakeOpenAI, llm: LlmComposer) -> None:
    fake.script(structured("hand_off", "A person from our team can look at this with you."))

    result = await llm.compose_detailed(request())

    assert result.action == "hand_off" and PERSON in result.reply.suggestions
    assert result.reply.handoff is None  # no handoff opens: the customer's click goes through the handoff rules


async def test_a_structured_answer_is_still_checked(fake: FakeOpenAI, llm: LlmComposer) -> None:
    fake.script(structured("hand_off", "Type /forget confirm and a person will call."),
                structured("hand_off", "Your refund of $89.00 is on its way: /export"))

    result = await llm.compose_detailed(request())

    assert not result.by_model and result.checks == (Check.COMMAND, Check.COMMAND)
    assert result.reply.text == DRAFT_TEXT and PERSON not in result.reply.suggestions


async def test_a_server_that_ignores_the_format_answers_in_plain_text(fake: FakeOpenAI, llm: LlmComposer) -> None:
    fake.script(Answer("Your lamp (order 1042) is on its way."))

    result = await llm.compose_detailed(request())

    assert "response_format" in fake.requests[0].body
    assert result.by_model and result.action == "" and result.reply.text == "Your lamp (order 1042) is on its way."


async def test_a_server_that_refuses_the_format_is_asked_in_plain_text_from_then_on(fake: FakeOpenAI,
                                                                                   llm: LlmComposer) -> None:
    fake.refuses_response_format = True
    fake.default = Answer("Your lamp (order 1042) is on its way.")

    first = await llm.compose_detailed(request())
    second = await llm.compose_detailed(request())

    asked = ["response_format" in r.body for r in fake.requests]
    assert asked == [True, False, False]  # one 400 for the endpoint, then plain text on every turn
    assert first.by_model and second.by_model and first.reply.text == "Your lamp (order 1042) is on its way."


async def test_another_400_is_a_failure_not_a_format_refusal(fake: FakeOpenAI, llm: LlmComposer) -> None:
    fake.script(Status(400, message="maximum context length exceeded"))

    result = await llm.compose_detailed(request())

    assert not result.by_model and result.failure is not None and result.failure.value == "status"
    assert len(fake.requests) == 1
    fake.script(structured("clarify", "Which order do you mean, 1042?"))
    assert (await llm.compose_detailed(request())).action == "clarify"
    assert "response_format" in fake.requests[-1].body  # still asked: that 400 said nothing about the format


@pytest.mark.parametrize(("raw", "parsed"), [
    ('{"action": "clarify", "text": "Which order?"}', ("Which order?", "clarify")),
    ('```json\n{"action": "answer", "text": "Hi"}\n```', ("Hi", "answer")),
    ('{"action": "delete_account", "text": "Done"}', ("Done", "")),  # no other action exists
    ('{"text": 5}', ('{"text": 5}', "")),
    ("{not json", ("{not json", "")),
    ("Plain words.", ("Plain words.", "")),
])
def test_parse_reply(raw: str, parsed: tuple[str, str]) -> None:
    assert parse_reply(raw) == parsed
