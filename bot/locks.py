"""Per-conversation locks: one turn at a time in a conversation, many conversations at once.

In one process an ``asyncio.Lock`` per conversation does it. With several processes (a web
and a worker dyno, or more), ``stores.redis_url`` switches to a Redis lock per conversation,
so a Slack retry reaching another process still waits for the first turn to finish.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import urlsplit

# A Redis lock lives this long unless its holder extends it (every third of it, while the turn runs):
# a process killed mid-turn frees its conversations within seconds, not after a minute.
LOCK_TTL_SECONDS = 10
# How long a turn waits for its conversation before it fails (and its message is retried).
LOCK_WAIT_SECONDS = 60


class ConversationBusy(TimeoutError):
    """Another process held the conversation for all of ``LOCK_WAIT_SECONDS``: this turn gave up waiting
    and stays queued, so a later run (the sweep, a redelivery) takes it. Expected under load, not a bug:
    it is logged as one line with the conversation, never as a traceback. Not redis's ``LockError``:
    importing redis for it cost every process ~0.6 s of start-up, Redis or not."""

    def __init__(self, conversation: str, waited: float) -> None:
        super().__init__(f"conversation {conversation} still held by another process after {waited:.0f}s")
        self.conversation = conversation
        self.waited = waited


class ConversationLocks:
    """In-process locks keyed by conversation; entries are dropped when nobody holds or waits."""

    def __init__(self) -> None:
        self._locks: dict[str, asyncio.Lock] = {}
        self._users: dict[str, int] = {}

    @asynccontextmanager
    async def hold(self, key: str) -> AsyncIterator[None]:
        lock = self._locks.setdefault(key, asyncio.Lock())
        self._users[key] = self._users.get(key, 0) + 1
        try:
            async with lock:
                yield
        finally:
            self._users[key] -= 1
            if self._users[key] == 0:
                del self._users[key]
                del self._locks[key]

    def __len__(self) -> int:
        return len(self._locks)

    async def close(self) -> None:
        return None


class RedisConversationLocks(ConversationLocks):
    """A Redis lock per conversation across processes, under the in-process lock (which keeps
    this process's own turns from polling Redis against each other).

    The lock only keeps two processes from running one conversation at once. The order of its turns
    does not depend on who wins it: whoever holds it runs the conversation's queue in the inbox
    oldest first (``Inbox.lease_next``), so a spin lock's unfairness cannot reorder a burst.
    """

    def __init__(self, url: str, wait_seconds: float = LOCK_WAIT_SECONDS) -> None:
        super().__init__()
        self._redis: Any = redis_client(url)
        self.wait_seconds = wait_seconds

    @asynccontextmanager
    async def hold(self, key: str) -> AsyncIterator[None]:
        async with super().hold(key):
            lock = self._redis.lock(f"rapport:conversation:{key}", timeout=LOCK_TTL_SECONDS,
                                    blocking_timeout=self.wait_seconds, sleep=0.02)
            if not await lock.acquire():
                raise ConversationBusy(key, self.wait_seconds)
            keeper = asyncio.create_task(_keep_alive(lock), name="redis-lock-keeper")
            try:
                yield
            finally:
                keeper.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await keeper
                await lock.release()

    async def close(self) -> None:
        await self._redis.aclose()


async def _keep_alive(lock: Any) -> None:
    while True:
        await asyncio.sleep(LOCK_TTL_SECONDS / 3)
        await lock.reacquire()


def redis_options(url: str) -> dict[str, Any]:
    """Client options a Redis URL needs beyond itself. Heroku Key-Value Store hands out ``rediss://`` URLs whose
    server certificate is self-signed: the connection is encrypted, but verifying that certificate fails, so
    Heroku's documented setting is ``ssl_cert_reqs=None`` (no verification) for that scheme."""
    return {"ssl_cert_reqs": None} if urlsplit(url).scheme == "rediss" else {}


def redis_client(url: str, **options: Any) -> Any:
    """An asyncio Redis client for ``url`` (``redis://`` or Heroku's ``rediss://``)."""
    import redis.asyncio as redis

    return redis.from_url(url, **redis_options(url), **options)


def conversation_locks(redis_url: str) -> ConversationLocks:
    return RedisConversationLocks(redis_url) if redis_url else ConversationLocks()
