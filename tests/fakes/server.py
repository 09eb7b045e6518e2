"""An aiohttp application on a free loopback port, and a log of the API calls a fake received."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web


@dataclass
class Call:
    """One API call as the fake understood it: method name and decoded parameters."""

    method: str
    params: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)


class CallLog:
    def __init__(self) -> None:
        self.calls: list[Call] = []
        self._changed = asyncio.Condition()

    async def record(self, call: Call) -> None:
        async with self._changed:
            self.calls.append(call)
            self._changed.notify_all()

    def named(self, method: str) -> list[Call]:
        return [c for c in self.calls if c.method == method]

    async def wait_for(self, method: str, count: int = 1, timeout: float = 10.0) -> list[Call]:
        """The first ``count`` calls of ``method``, waiting up to ``timeout`` seconds for them to arrive."""
        async with self._changed:
            try:
                await asyncio.wait_for(self._changed.wait_for(lambda: len(self.named(method)) >= count), timeout)
            except TimeoutError:
                raise AssertionError(
                    f"expected {count} {method} call(s) within {timeout}s, got {len(self.named(method))}: "
                    f"{[c.method for c in self.calls]}"
                ) from None
        return self.named(method)[:count]


class LoopbackServer:
    """``async with LoopbackServer(app) as server:`` serves ``app`` at ``server.url`` until the block ends."""

    def __init__(self, app: web.Application) -> None:
        self.app = app
        self.port = 0
        self._runner = web.AppRunner(app, handle_signals=False, access_log=None)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def __aenter__(self) -> LoopbackServer:
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = self._runner.addresses[0][1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._runner.cleanup()
