"""A fake OpenAI-compatible server: ``POST /v1/chat/completions`` on loopback, scripted per request.

Point the ``openai`` SDK at ``fake.base_url``. Each request is recorded (``fake.requests``: the decoded
JSON body and headers) and answered by the next scripted :class:`Behaviour`, or ``fake.default`` when the
script is empty. It answers like the real API: a ``chat.completion`` object with ``usage``, or, when the
request asks ``stream: true``, ``chat.completion.chunk`` events over SSE ending in ``data: [DONE]``
(with a usage chunk when ``stream_options.include_usage`` is set).
"""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from tests.fakes.server import LoopbackServer

_ids = itertools.count(1)


@dataclass(frozen=True)
class Answer:
    """A normal completion with ``text`` (streamed in ``chunk``-character pieces when asked to stream)."""

    text: str
    prompt_tokens: int | None = None  # None: the fake counts words of the request as a stand-in
    completion_tokens: int | None = None
    chunk: int = 12
    delay: float = 0.0  # seconds before the first byte
    stall_after: int | None = None  # streamed: hang after this many content chunks (a stream that breaks)


@dataclass(frozen=True)
class Status:
    """An error status with the API's error body, e.g. 429 with ``retry_after`` or 500."""

    status: int
    retry_after: float | None = None
    message: str = "scripted error"


@dataclass(frozen=True)
class Hang:
    """Accept the request and never answer (until the client gives up or the fake stops)."""


@dataclass(frozen=True)
class Garbage:
    """200 with a body that is not a completion."""

    body: str = "<html>upstream proxy error</html>"


Behaviour = Answer | Status | Hang | Garbage


@dataclass
class Recorded:
    body: dict[str, Any]
    headers: dict[str, str]
    at: float

    @property
    def messages(self) -> list[dict[str, str]]:
        return list(self.body.get("messages", []))

    @property
    def text(self) -> str:
        """Everything the client sent the model, as one string (for 'is X in the request' checks)."""
        return "\n".join(str(m.get("content", "")) for m in self.messages)


@dataclass
class FakeOpenAI:
    default: Behaviour | Callable[[Recorded], Behaviour] = field(default_factory=lambda: Answer("Hello from the fake."))
    requests: list[Recorded] = field(default_factory=list)
    _script: deque[Behaviour] = field(default_factory=deque)
    _server: LoopbackServer | None = None
    _hung: set[asyncio.Event] = field(default_factory=set)
    # A server without structured output (many local ones): a request with response_format gets the 400
    # such servers send, before any scripted behaviour is used up.
    refuses_response_format: bool = False

    def script(self, *behaviours: Behaviour) -> None:
        self._script.extend(behaviours)

    @property
    def base_url(self) -> str:
        assert self._server is not None, "use `async with FakeOpenAI() as fake:`"
        return f"{self._server.url}/v1"

    async def __aenter__(self) -> FakeOpenAI:
        app = web.Application()
        app.router.add_post("/v1/chat/completions", self._completions)
        self._server = LoopbackServer(app)
        await self._server.__aenter__()
        return self

    async def __aexit__(self, *exc: object) -> None:
        for event in self._hung:
            event.set()
        assert self._server is not None
        await self._server.__aexit__(*exc)

    async def _completions(self, request: web.Request) -> web.StreamResponse:
        body = await request.json()
        recorded = Recorded(body, dict(request.headers), time.monotonic())
        self.requests.append(recorded)
        if self.refuses_response_format and "response_format" in body:
            return web.json_response({"error": {"message": "response_format json_schema is not supported",
                                                "type": "invalid_request_error", "param": "response_format",
                                                "code": None}}, status=400)
        behaviour = self._script.popleft() if self._script else (
            self.default(recorded) if callable(self.default) else self.default)
        match behaviour:
            case Status(status, retry_after, message):
                headers = {"retry-after": str(retry_after)} if retry_after is not None else {}
                return web.json_response({"error": {"message": message, "type": "server_error", "code": status}},
                                         status=status, headers=headers)
            case Hang():
                release = asyncio.Event()
                self._hung.add(release)
                await release.wait()
                return web.Response(status=499)
            case Garbage(text):
                return web.Response(text=text, content_type="application/json")
            case Answer() as answer:
                if answer.delay:
                    await asyncio.sleep(answer.delay)
                if body.get("stream"):
                    return await self._stream(request, body, answer)
                return web.json_response(self._completion(body, answer))
        raise AssertionError(f"unknown behaviour {behaviour!r}")

    def _usage(self, body: dict[str, Any], answer: Answer) -> dict[str, int]:
        prompt = answer.prompt_tokens if answer.prompt_tokens is not None else sum(
            len(str(m.get("content", "")).split()) for m in body.get("messages", []))
        completion = answer.completion_tokens if answer.completion_tokens is not None else len(answer.text.split())
        return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}

    def _completion(self, body: dict[str, Any], answer: Answer) -> dict[str, Any]:
        return {
            "id": f"chatcmpl-{next(_ids)}", "object": "chat.completion", "created": int(time.time()),
            "model": body.get("model", "fake"),
            "choices": [{"index": 0, "finish_reason": "stop",
                         "message": {"role": "assistant", "content": answer.text}}],
            "usage": self._usage(body, answer),
        }

    async def _stream(self, request: web.Request, body: dict[str, Any], answer: Answer) -> web.StreamResponse:
        response = web.StreamResponse(headers={"content-type": "text/event-stream", "cache-control": "no-cache"})
        await response.prepare(request)
        cid, created, model = f"chatcmpl-{next(_ids)}", int(time.time()), body.get("model", "fake")

        async def event(delta: dict[str, Any], finish: str | None = None, usage: dict[str, int] | None = None,
                        choices: bool = True) -> None:
            chunk: dict[str, Any] = {"id": cid, "object": "chat.completion.chunk", "created": created, "model": model,
                                     "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]
                                     if choices else []}
            if usage is not None:
                chunk["usage"] = usage
            await response.write(f"data: {json.dumps(chunk)}\n\n".encode())

        await event({"role": "assistant", "content": ""})
        for n, i in enumerate(range(0, len(answer.text), answer.chunk)):
            if answer.stall_after is not None and n >= answer.stall_after:
                release = asyncio.Event()
                self._hung.add(release)
                await release.wait()
                return response
            await event({"content": answer.text[i:i + answer.chunk]})
        await event({}, finish="stop")
        if (body.get("stream_options") or {}).get("include_usage"):
            await event({}, usage=self._usage(body, answer), choices=False)
        await response.write(b"data: [DONE]\n\n")
        await response.write_eof()
        return response
