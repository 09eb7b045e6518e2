"""The chat client through the real ``openai`` SDK against the fake: what it sends, which failures it
retries and how long it waits."""

from __future__ import annotations

import socket
import time

import pytest

from bot.llm import ChatClient, FailureKind, LlmUnavailable
from bot.llm.client import Message
from tests.fakes.openai import Answer, FakeOpenAI, Status
from tests.llm.conftest import short_config

HELLO = [Message("system", "You are a test."), Message("user", "hi")]


async def test_a_streamed_answer_sends_the_configured_parameters_and_reads_usage(fake: FakeOpenAI) -> None:
    client = ChatClient.from_config(short_config(fake.base_url, max_tokens=123, temperature=0.2))
    fake.script(Answer("Hello there, how can I help?", prompt_tokens=17, completion_tokens=7, chunk=3))

    completion = await client.complete(HELLO)

    await client.close()
    body = fake.requests[0].body
    assert body["stream"] is True and body["stream_options"] == {"include_usage": True}
    assert (body["model"], body["max_tokens"], body["temperature"]) == ("fake-model", 123, 0.2)
    assert body["messages"] == [{"role": "system", "content": "You are a test."}, {"role": "user", "content": "hi"}]
    assert fake.requests[0].headers["x-stainless-retry-count"] == "0"  # the SDK's own retries are off
    assert (completion.text, completion.prompt_tokens, completion.completion_tokens) == (
        "Hello there, how can I help?", 17, 7)


@pytest.mark.parametrize("status", [408, 409, 429, 500, 502, 503])
async def test_retryable_statuses_are_retried_twice(fake: FakeOpenAI, status: int) -> None:
    client = ChatClient.from_config(short_config(fake.base_url, timeout_seconds=5))
    fake.script(Status(status), Status(status), Answer("third time lucky"))

    completion = await client.complete(HELLO)

    await client.close()
    assert completion.text == "third time lucky" and completion.attempts == 3 and len(fake.requests) == 3


@pytest.mark.parametrize("status", [400, 401, 403, 404, 422])
async def test_other_statuses_are_not_retried(fake: FakeOpenAI, status: int) -> None:
    client = ChatClient.from_config(short_config(fake.base_url))
    fake.default = Status(status)

    with pytest.raises(LlmUnavailable) as failed:
        await client.complete(HELLO)

    await client.close()
    assert failed.value.status == status and len(fake.requests) == 1


async def test_retry_after_is_honoured(fake: FakeOpenAI) -> None:
    client = ChatClient.from_config(short_config(fake.base_url))
    fake.script(Status(429, retry_after=0.8), Answer("ok"))

    await client.complete(HELLO)

    await client.close()
    waited = fake.requests[1].at - fake.requests[0].at
    assert 0.75 < waited < 1.3, waited


async def test_a_refused_connection_is_a_connection_failure_within_the_budget() -> None:
    with socket.socket() as s:  # a loopback port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    client = ChatClient.from_config(short_config(f"http://127.0.0.1:{port}/v1"))
    started = time.monotonic()

    with pytest.raises(LlmUnavailable) as failed:
        await client.complete(HELLO)

    await client.close()
    assert failed.value.kind is FailureKind.CONNECTION and failed.value.attempts == 3
    assert time.monotonic() - started < 3.2


async def test_a_stream_that_stops_half_way_is_a_failure_not_half_a_reply(fake: FakeOpenAI) -> None:
    client = ChatClient.from_config(short_config(fake.base_url, max_retries=0))
    fake.default = Answer("Your order shipped and will arrive on", chunk=5, stall_after=2)
    started = time.monotonic()

    with pytest.raises(LlmUnavailable) as failed:
        await client.complete(HELLO)

    await client.close()
    assert failed.value.kind is FailureKind.STALLED
    assert time.monotonic() - started < 3.2
