"""Helpers for adapter tests: watch turns, collect feedback, run adapters and the web process, sample replies."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx

from bot.cli.platforms import serve
from bot.config import Config, DiscordPlatform, Platforms, SlackPlatform, TelegramPlatform
from bot.types import ConversationKey, Feedback, Inbound, MessageHandler, Reply, Source, Suggestion


class Turns:
    """Every (inbound, reply-or-None) a handler finished, in order, with a way to wait for them."""

    def __init__(self) -> None:
        self.done: list[tuple[Inbound, Reply | None]] = []
        self._changed = asyncio.Condition()

    def wrap(self, handler: MessageHandler) -> MessageHandler:
        async def handle(inbound: Inbound) -> Reply | None:
            reply = await handler(inbound)
            async with self._changed:
                self.done.append((inbound, reply))
                self._changed.notify_all()
            return reply

        return handle

    def of(self, message_id: str) -> list[Reply | None]:
        return [reply for inbound, reply in self.done if inbound.message_id == message_id]

    async def wait(self, predicate: Callable[[], bool], timeout: float = 10.0) -> None:
        async with self._changed:
            await asyncio.wait_for(self._changed.wait_for(predicate), timeout)

    async def wait_for(self, message_id: str, count: int = 1, timeout: float = 10.0) -> list[Reply | None]:
        """The replies of the first ``count`` finished turns for ``message_id`` (None for a skipped duplicate)."""
        await self.wait(lambda: len(self.of(message_id)) >= count, timeout)
        return self.of(message_id)


class FeedbackLog:
    def __init__(self) -> None:
        self.received: list[Feedback] = []
        self._changed = asyncio.Condition()

    async def __call__(self, feedback: Feedback) -> None:
        async with self._changed:
            self.received.append(feedback)
            self._changed.notify_all()

    async def wait(self, count: int = 1, timeout: float = 10.0) -> list[Feedback]:
        async with self._changed:
            await asyncio.wait_for(self._changed.wait_for(lambda: len(self.received) >= count), timeout)
        return self.received


def with_platforms(config: Config, *, slack: SlackPlatform | None = None, discord: DiscordPlatform | None = None,
                   telegram: TelegramPlatform | None = None, **updates: Any) -> Config:
    """``config`` with these platform settings (others disabled) and any other top-level ``updates``."""
    platforms = Platforms(slack=slack or SlackPlatform(), discord=discord or DiscordPlatform(),
                          telegram=telegram or TelegramPlatform())
    return config.model_copy(update={"platforms": platforms, **updates})


@contextlib.asynccontextmanager
async def running(start: Awaitable[None], stop: Callable[[], Awaitable[None]], ready: Callable[[], Awaitable[None]]
                  ) -> AsyncIterator[asyncio.Task[None]]:
    """Run ``start`` as a task until the block ends; fail fast if it dies before ``ready`` returns."""
    task: asyncio.Task[None] = asyncio.ensure_future(start)
    waiter = asyncio.ensure_future(ready())
    done, _ = await asyncio.wait({task, waiter}, timeout=20, return_when=asyncio.FIRST_COMPLETED)
    if task in done:
        waiter.cancel()
        task.result()  # raises what killed it
        raise AssertionError("stopped before it was ready")
    if waiter not in done:
        waiter.cancel()
        task.cancel()
        raise AssertionError("not ready within 20s")
    waiter.result()
    try:
        yield task
    finally:
        await stop()
        await asyncio.wait_for(task, 15)


@contextlib.asynccontextmanager
async def web_process(config: Config, data_dir: Path) -> AsyncIterator[httpx.AsyncClient]:
    """``rapport serve`` (the real async entry point) on a free loopback port; yields a client for it."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    stop = asyncio.Event()
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=10) as client:

        async def healthy() -> None:
            while True:
                with contextlib.suppress(httpx.TransportError):
                    if (await client.get("/healthz")).status_code == 200:
                        return
                await asyncio.sleep(0.05)

        async def stop_serving() -> None:
            stop.set()

        async with running(serve(config, data_dir, sockets=[listener], stop=stop), stop_serving, healthy):
            yield client
    listener.close()


def sample_reply(conversation: ConversationKey | None = None, in_reply_to: str = "", **changes: Any) -> Reply:
    """A typical answer: text ending in its sources line, one source, two suggestions, feedback wanted."""
    fields: dict[str, Any] = {
        "conversation": conversation or ConversationKey("slack", "T0HOME", "C0SUPPORT", "1700000000.000100"),
        "in_reply_to": in_reply_to or "C0SUPPORT:1700000000.000100",
        "text": "Standard shipping takes 3–5 business days.\n\nSource: Shipping — How long does shipping take?",
        "sources": (Source("Shipping", "How long does shipping take?", "knowledge/pages/shipping.md", 0.81),),
        "suggestions": (Suggestion("Do you ship abroad?", "Do you ship internationally?"),
                        Suggestion("Talk to a person", "I'd like to talk to a person")),
    }
    fields.update(changes)
    return Reply(**fields)


async def until_healthy(process: asyncio.subprocess.Process, port: int, tries: int = 1200) -> None:
    """Poll a `rapport serve` process's /healthz until it answers 200; fail with its stderr if it died."""
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
        for _ in range(tries):
            with contextlib.suppress(httpx.TransportError):
                if (await client.get("/healthz")).status_code == 200:
                    return
            if process.returncode is not None:
                stderr = await process.stderr.read() if process.stderr else b""
                raise AssertionError(stderr.decode()[-3000:])
            await asyncio.sleep(0.05)
    raise AssertionError(f"rapport serve was not healthy on port {port}")
