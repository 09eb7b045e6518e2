"""Conversation locks across processes through Redis (the local Redis at 127.0.0.1:6379)."""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.delivery import Delivery
from bot.locks import ConversationBusy, RedisConversationLocks, redis_options
from bot.types import ConversationKey

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


async def test_a_turn_that_waits_too_long_gives_up_with_the_conversation_named(redis_url: str) -> None:
    web, worker = RedisConversationLocks(redis_url), RedisConversationLocks(redis_url, wait_seconds=0.3)
    try:
        async with web.hold("slack:T1:C9:1700.9"):
            with pytest.raises(ConversationBusy) as busy:
                async with worker.hold("slack:T1:C9:1700.9"):
                    pytest.fail("two processes held one conversation at once")
        # A wait that ran out: whatever catches timeouts catches this.
        assert isinstance(busy.value, TimeoutError)
        assert busy.value.conversation == "slack:T1:C9:1700.9" and busy.value.waited == 0.3
        # The holder let go: the one that gave up gets it now.
        async with worker.hold("slack:T1:C9:1700.9"):
            pass
    finally:
        await web.close()
        await worker.close()


class _BusyEngine:
    """An engine whose conversation another process holds for the whole wait."""

    runs = 0

    async def run_queue(self, conversation: ConversationKey) -> dict[str, object]:
        self.runs += 1
        raise ConversationBusy(str(conversation), 60)


class _NothingToSend:
    outbox = None

    async def deliver(self, conversation: ConversationKey | None = None) -> int:
        return 0


async def test_a_busy_conversation_is_logged_as_one_line_with_its_ids(caplog: pytest.LogCaptureFixture) -> None:
    engine = _BusyEngine()
    delivery = Delivery(engine, _NothingToSend())  # type: ignore[arg-type]
    conversation = ConversationKey("slack", "T1", "C9", "1700.9")
    with caplog.at_level("WARNING", logger="rapport.delivery"):
        await delivery._answer(conversation)
    records = [r for r in caplog.records if r.name == "rapport.delivery"]
    assert len(records) == 1 and records[0].levelname == "WARNING"
    assert records[0].exc_info is None  # no traceback
    assert getattr(records[0], "conversation") == "slack:T1:C9:1700.9" and getattr(records[0], "platform") == "slack"
    assert engine.runs == 1  # given up for now, not retried in a loop: the sweep takes the turn later


@pytest.fixture
def tls_redis_url(tmp_path: Path) -> Iterator[str]:
    """A Redis that only speaks TLS with a self-signed certificate, as Heroku Key-Value Store does (rediss://)."""
    if shutil.which("redis-server") is None or shutil.which("openssl") is None:
        problem = "redis-server or openssl is not installed"
        if os.environ.get("RAPPORT_REQUIRE_REDIS") == "1":
            pytest.fail(problem)
        pytest.skip(problem)
    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(cert),
                    "-days", "1", "-subj", "/CN=redis.example"], check=True, capture_output=True)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen(
        ["redis-server", "--port", "0", "--tls-port", str(port), "--bind", "127.0.0.1", "--tls-cert-file", str(cert),
         "--tls-key-file", str(key), "--tls-ca-cert-file", str(cert), "--tls-auth-clients", "no", "--save", "",
         "--appendonly", "no"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                if time.monotonic() > deadline or server.poll() is not None:
                    pytest.fail(f"redis-server with TLS did not start on port {port}")
                time.sleep(0.05)
        yield f"rediss://127.0.0.1:{port}/0"
    finally:
        server.terminate()
        server.wait(timeout=10)


async def test_heroku_rediss_url_with_a_self_signed_certificate_works(tls_redis_url: str) -> None:
    # Without ssl_cert_reqs=None the TLS handshake fails: "certificate verify failed: self-signed certificate".
    locks = RedisConversationLocks(tls_redis_url)
    try:
        async with locks.hold("telegram:42"):
            assert await locks._redis.exists("rapport:conversation:telegram:42") == 1
    finally:
        await locks.close()
    assert redis_options("redis://127.0.0.1:6379/0") == {}  # plain Redis keeps the client's defaults
