"""Conversation locks across processes through Redis (the local Redis at 127.0.0.1:6379)."""

from __future__ import annotations

import asyncio
import os
import socket

import pytest

from bot.locks import RedisConversationLocks

REDIS_URL = os.environ.get("RAPPORT_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


def _redis_problem() -> str | None:
    try:
        with socket.create_connection(("127.0.0.1", 6379), timeout=1):
            return None
    except OSError as exc:
        return f"Redis not reachable at 127.0.0.1:6379 ({exc}); set RAPPORT_TEST_REDIS_URL"


@pytest.fixture
def redis_url() -> str:
    problem = _redis_problem()
    if problem:
        if os.environ.get("RAPPORT_REQUIRE_REDIS") == "1":
            pytest.fail(problem)
        pytest.skip(problem)
    return REDIS_URL


async def test_two_processes_take_turns_in_one_conversation(redis_url: str) -> None:
    # Two lock objects stand for two processes: they share nothing but Redis.
    web, worker = RedisConversationLocks(redis_url), RedisConversationLocks(redis_url)
    order: list[str] = []

    async def turn(locks: RedisConversationLocks, name: str) -> None:
        async with locks.hold("slack:T1:C1:1700.1"):
            order.append(f"start {name}")
            await asyncio.sleep(0.1)
            order.append(f"end {name}")

    try:
        await asyncio.gather(turn(web, "web"), turn(worker, "worker"))
        assert order in (["start web", "end web", "start worker", "end worker"],
                         ["start worker", "end worker", "start web", "end web"])
        # Other conversations are not held up.
        async with web.hold("slack:T1:C1:1700.1"):
            async with worker.hold("slack:T1:C2:1800.1"):
                pass
    finally:
        await web.close()
        await worker.close()
