"""One chat completion from any OpenAI-compatible server, within a time budget, or a typed failure.

The ``openai`` SDK's own retries are off (``max_retries=0``): we retry here so that jitter, ``Retry-After``
and the overall deadline are one policy, and so the circuit breaker sees every failure. Calls are
streamed by default because only a stream tells when the first token arrived; with ``stream: false`` the
read timeout stands in for it (a plain answer's first byte comes when the whole answer is done).
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from enum import StrEnum

import httpx
import openai
from openai import AsyncOpenAI

from bot.config import Llm
from bot.errors import RapportError

__all__ = ["ACTIONS", "ChatClient", "CircuitBreaker", "Completion", "Endpoint", "FailureKind", "LlmUnavailable",
           "Message", "REPLY_FORMAT", "parse_reply"]

log = logging.getLogger("rapport.llm")

# Statuses worth another try: the server may answer next time. 400/401/403/404/422 never will.
RETRYABLE_STATUSES = frozenset({408, 409, 429})
BACKOFF_BASE_SECONDS = 0.4

# What the model may say it is doing. It only *says*: the composer turns "hand_off" into the offer of a
# person (a button), and the handoff rules decide when the customer takes it.
ACTIONS = ("answer", "clarify", "hand_off")

# Structured output (json_schema), asked for while an endpoint has not refused it: the action with the text.
REPLY_FORMAT = {
    "type": "json_schema",
    "json_schema": {
        "name": "support_reply",
        "strict": True,
        "schema": {
            "type": "object",
            "properties": {
                "action": {"type": "string", "enum": list(ACTIONS),
                           "description": "answer the question, ask a clarifying question, or offer a person"},
                "text": {"type": "string", "description": "the reply to the customer"},
            },
            "required": ["action", "text"],
            "additionalProperties": False,
        },
    },
}


def parse_reply(raw: str) -> tuple[str, str]:
    """(text, action) of an answer: a ``{"action", "text"}`` object when the server honoured the format,
    else the whole answer is the text and the action unknown (""). Never raises."""
    body = raw.strip()
    if body.startswith("```"):  # some servers fence their JSON
        body = body.strip("`").removeprefix("json").strip()
    if not body.startswith("{"):
        return raw, ""
    try:
        value = json.loads(body)
    except ValueError:
        return raw, ""
    if not isinstance(value, dict) or not isinstance(value.get("text"), str):
        return raw, ""
    action = value.get("action")
    return value["text"], action if action in ACTIONS else ""


def _refuses_format(exc: openai.APIStatusError) -> bool:
    """A 400 that is about the response format (not about our messages): ask this endpoint in plain text."""
    if exc.status_code != 400:
        return False
    body = exc.body if isinstance(exc.body, dict) else {}
    error = body.get("error", body) if isinstance(body.get("error", body), dict) else {}
    said = f"{exc.message} {error.get('message', '')} {error.get('param', '')}".lower()
    return any(word in said for word in ("response_format", "json_schema", "structured output"))


class FailureKind(StrEnum):
    CONNECTION = "connection"
    FIRST_TOKEN_TIMEOUT = "first_token_timeout"
    STALLED = "stalled"  # a stream that started, then stopped: never shown half-written
    DEADLINE = "deadline"
    STATUS = "status"
    GARBAGE = "garbage"  # an answer the SDK could not parse, or one with no text
    BREAKER_OPEN = "breaker_open"


class LlmUnavailable(RapportError):
    """No usable answer within the budget. ``kind`` and ``status`` say why (for logs and tests)."""

    def __init__(self, kind: FailureKind, status: int = 0, attempts: int = 0) -> None:
        super().__init__(f"the LLM gave no usable answer ({kind}{f' {status}' if status else ''})",
                         fix="the offline composer answered; check llm.base_url and the server's health")
        self.kind = kind
        self.status = status
        self.attempts = attempts


@dataclass(frozen=True, slots=True)
class Message:
    role: str  # "system" | "user" | "assistant"
    content: str


@dataclass(frozen=True, slots=True)
class Completion:
    text: str
    model: str
    prompt_tokens: int  # as the server's usage reports them (0 when it reports none)
    completion_tokens: int
    attempts: int
    action: str = ""  # "answer" | "clarify" | "hand_off", or "" when the server answered in plain text


@dataclass(frozen=True, slots=True)
class Endpoint:
    base_url: str
    api_key: str
    model: str


# Called with each piece of a streamed answer and the attempt it belongs to (a new attempt: the stream broke).
OnDelta = Callable[[str, int], Awaitable[None]]


class CircuitBreaker:
    """Open after ``failures`` failed replies in a row; while open, calls fail at once (the offline composer
    answers without waiting for a server that is down). After ``cooldown`` one trial call goes through."""

    def __init__(self, failures: int, cooldown: float, clock: Callable[[], float] | None = None) -> None:
        self._limit = failures
        self._cooldown = cooldown
        self._clock = clock or time.monotonic
        self._failures = 0
        self._opened_at: float | None = None

    @property
    def open(self) -> bool:
        if self._opened_at is None:
            return False
        return self._clock() - self._opened_at < self._cooldown

    def succeeded(self) -> None:
        self._failures, self._opened_at = 0, None

    def failed(self) -> None:
        self._failures += 1
        if self._failures >= self._limit:
            self._opened_at = self._clock()


class ChatClient:
    """Chat Completions against a primary endpoint and an optional second one, sharing one deadline."""

    def __init__(self, endpoints: list[Endpoint], *, overall_seconds: float, first_token_seconds: float,
                 max_retries: int, max_tokens: int, temperature: float, stream: bool,
                 breaker: CircuitBreaker) -> None:
        if not endpoints:
            raise ValueError("at least one endpoint")
        self._endpoints = endpoints
        self.overall_seconds = overall_seconds
        self._first_token = min(first_token_seconds, overall_seconds)
        self._retries = max_retries
        self._max_tokens = max_tokens
        self._temperature = temperature
        self._stream = stream
        self.breaker = breaker
        # Per endpoint, remembered across turns: does it take response_format? Yes until it says no once.
        self.structured = [True] * len(endpoints)
        self._clients = [
            AsyncOpenAI(base_url=e.base_url or None, api_key=e.api_key or "not-needed", max_retries=0,
                        timeout=httpx.Timeout(overall_seconds, connect=min(3.0, overall_seconds),
                                              read=self._first_token))
            for e in endpoints
        ]

    @classmethod
    def from_config(cls, config: Llm) -> ChatClient:
        endpoints = [Endpoint(config.base_url, config.api_key, config.model)]
        if config.fallback_base_url or config.fallback_model:
            endpoints.append(Endpoint(config.fallback_base_url or config.base_url,
                                      config.fallback_api_key or config.api_key,
                                      config.fallback_model or config.model))
        return cls(endpoints, overall_seconds=config.timeout_seconds, first_token_seconds=config.first_token_seconds,
                   max_retries=config.max_retries, max_tokens=config.max_tokens, temperature=config.temperature,
                   stream=config.stream, breaker=CircuitBreaker(config.breaker_failures,
                                                                config.breaker_cooldown_seconds))

    async def close(self) -> None:
        for client in self._clients:
            await client.close()

    async def complete(self, messages: list[Message], deadline: float | None = None,
                       on_delta: OnDelta | None = None) -> Completion:
        """The model's answer to ``messages``. ``deadline`` (a ``time.monotonic()`` instant) caps the whole
        call, retries included; by default ``timeout_seconds`` from now. Raises :class:`LlmUnavailable`."""
        if self.breaker.open:
            raise LlmUnavailable(FailureKind.BREAKER_OPEN)
        deadline = deadline if deadline is not None else time.monotonic() + self.overall_seconds
        attempts = 0
        last = LlmUnavailable(FailureKind.DEADLINE)
        for index, endpoint in enumerate(self._endpoints):
            for attempt in range(self._retries + 1):
                remaining = deadline - time.monotonic()
                if remaining <= 0.05:
                    break
                attempts += 1
                try:
                    async with asyncio.timeout(remaining):
                        completion = await self._once(index, endpoint, messages, attempts, on_delta)
                    self.breaker.succeeded()
                    return completion
                except TimeoutError:
                    last = LlmUnavailable(FailureKind.DEADLINE, attempts=attempts)
                    break
                except LlmUnavailable as exc:
                    last = exc
                    wait = self._retry_wait(exc, attempt)
                    log.info("llm call failed", extra={"kind": exc.kind.value, "status": exc.status,
                                                       "attempt": attempts, "endpoint": index})
                    if wait is None or time.monotonic() + wait >= deadline - 0.05:
                        break  # not retryable, or the wait would eat the budget: next endpoint
                    await asyncio.sleep(wait)
        self.breaker.failed()
        raise LlmUnavailable(last.kind, last.status, attempts)

    def _retry_wait(self, exc: LlmUnavailable, attempt: int) -> float | None:
        if attempt >= self._retries:
            return None
        if exc.kind is FailureKind.STATUS and not (exc.status in RETRYABLE_STATUSES or exc.status >= 500):
            return None
        if exc.kind is FailureKind.GARBAGE:
            return None  # a server that answers garbage will do it again
        retry_after = getattr(exc, "retry_after", None)
        if retry_after is not None:
            return retry_after
        # Full jitter around an exponential step, so that many conversations do not retry in lockstep.
        return BACKOFF_BASE_SECONDS * (2 ** attempt) * random.uniform(0.5, 1.5)

    async def _once(self, index: int, endpoint: Endpoint, messages: list[Message], attempt: int,
                    on_delta: OnDelta | None = None) -> Completion:
        try:
            return await self._ask(index, endpoint, messages, attempt, on_delta)
        except openai.APIStatusError as exc:
            if not (self.structured[index] and _refuses_format(exc)):
                raise self._status_failure(exc, attempt) from exc
            # Once per endpoint, not per turn: from now on it is asked in plain text, and this turn goes on.
            self.structured[index] = False
            log.info("llm endpoint refuses structured output; plain text from now on", extra={"endpoint": index})
            try:
                return await self._ask(index, endpoint, messages, attempt, on_delta)
            except openai.APIStatusError as again:
                raise self._status_failure(again, attempt) from again

    @staticmethod
    def _status_failure(exc: openai.APIStatusError, attempt: int) -> LlmUnavailable:
        failure = LlmUnavailable(FailureKind.STATUS, exc.status_code, attempt)
        failure.retry_after = _retry_after(exc.response)  # type: ignore[attr-defined]
        return failure

    def _options(self, index: int) -> dict[str, object]:
        options: dict[str, object] = {"max_tokens": self._max_tokens, "temperature": self._temperature}
        if self.structured[index]:
            options["response_format"] = REPLY_FORMAT
        return options

    async def _ask(self, index: int, endpoint: Endpoint, messages: list[Message], attempt: int,
                   on_delta: OnDelta | None = None) -> Completion:
        client = self._clients[index]
        payload = [{"role": m.role, "content": m.content} for m in messages]
        try:
            if self._stream:
                return await self._streamed(client, index, endpoint, payload, attempt, on_delta)
            response = await client.chat.completions.create(
                model=endpoint.model, messages=payload, **self._options(index))  # type: ignore[call-overload]
            raw = (response.choices[0].message.content or "") if response.choices else ""
            text, action = parse_reply(raw)
            usage = response.usage
            if not text.strip():
                raise LlmUnavailable(FailureKind.GARBAGE, attempts=attempt)
            return Completion(text, response.model or endpoint.model, usage.prompt_tokens if usage else 0,
                              usage.completion_tokens if usage else 0, attempt, action)
        except (LlmUnavailable, openai.APIStatusError):
            raise
        except openai.APITimeoutError as exc:
            raise LlmUnavailable(FailureKind.FIRST_TOKEN_TIMEOUT, attempts=attempt) from exc
        except openai.APIConnectionError as exc:
            raise LlmUnavailable(FailureKind.CONNECTION, attempts=attempt) from exc
        except (openai.APIResponseValidationError, ValueError, KeyError, IndexError, AttributeError,
                TypeError) as exc:
            # The SDK raises plain decoding errors for a body that is not JSON or not a completion.
            raise LlmUnavailable(FailureKind.GARBAGE, attempts=attempt) from exc

    async def _streamed(self, client: AsyncOpenAI, index: int, endpoint: Endpoint, payload: list[dict[str, str]],
                        attempt: int, on_delta: OnDelta | None = None) -> Completion:
        started = time.monotonic()
        first_token = asyncio.timeout(self._first_token)
        parts: list[str] = []
        try:
            async with first_token:
                return await self._collect(client, index, endpoint, payload, attempt, first_token, started, parts,
                                           on_delta)
        except (TimeoutError, httpx.TimeoutException, openai.APITimeoutError):
            # Our first-token scope, or the read timeout between chunks; the caller's deadline is converted
            # by its own scope, further out, and never lands here.
            kind = FailureKind.STALLED if parts else FailureKind.FIRST_TOKEN_TIMEOUT
            raise LlmUnavailable(kind, attempts=attempt) from None
        except (httpx.HTTPError, openai.APIConnectionError) as exc:  # the connection dropped
            raise LlmUnavailable(FailureKind.STALLED if parts else FailureKind.CONNECTION, attempts=attempt) from exc

    async def _collect(self, client: AsyncOpenAI, index: int, endpoint: Endpoint, payload: list[dict[str, str]],
                       attempt: int, first_token: asyncio.Timeout, started: float, parts: list[str],
                       on_delta: OnDelta | None = None) -> Completion:
        stream = await client.chat.completions.create(
            model=endpoint.model, messages=payload, stream=True,  # type: ignore[call-overload]
            stream_options={"include_usage": True}, **self._options(index))
        prompt_tokens = completion_tokens = 0
        model = endpoint.model
        try:
            async for chunk in stream:
                model = chunk.model or model
                if chunk.usage is not None:
                    prompt_tokens, completion_tokens = chunk.usage.prompt_tokens, chunk.usage.completion_tokens
                for choice in chunk.choices:
                    if choice.delta and choice.delta.content:
                        if not parts:
                            first_token.reschedule(None)  # the first token came: only the deadline applies
                        parts.append(choice.delta.content)
                        if on_delta is not None:
                            await on_delta(choice.delta.content, attempt)
        finally:
            await stream.close()
        text, action = parse_reply("".join(parts))
        if not text.strip():
            raise LlmUnavailable(FailureKind.GARBAGE, attempts=attempt)
        log.debug("llm streamed", extra={"seconds": round(time.monotonic() - started, 3)})
        return Completion(text, model, prompt_tokens, completion_tokens, attempt, action)


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("retry-after", "")
    try:
        return max(0.0, float(value))
    except ValueError:
        return None  # an HTTP date or nothing: our own backoff applies
