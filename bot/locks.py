"""Per-conversation locks: one turn at a time in a conversation, many conversations at once.

In one process an ``asyncio.Lock`` per conversation does it. With several processes (a web
and a worker dyno, or more), ``stores.redis_url`` switches to a Redis lock per conversation,
so a Slack retry reaching another process still waits for the first turn to finish.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

# A turn that holds a lock longer than this is assumed dead; its lock expires.
LOCK_TIMEOUT_SECONDS = 60


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
    this process's own turns from polling Redis against each other)."""

    def __init__(self, url: str) -> None:
        super().__init__()
        import redis.asyncio as redis

        self._redis: Any = redis.from_url(url)

    @asynccontextmanager
    async def hold(self, key: str) -> AsyncIterator[None]:
        async with super().hold(key):
            lock = self._redis.lock(f"rapport:conversation:{key}", timeout=LOCK_TIMEOUT_SECONDS,
                                    blocking_timeout=LOCK_TIMEOUT_SECONDS)
            async with lock:
                yield

    async def close(self) -> None:
        await self._redis.aclose()


def conversation_locks(redis_url: str) -> ConversationLocks:
    return RedisConversationLocks(redis_url) if redis_url else ConversationLocks()
