"""Several processes on one PostgreSQL, one Redis and one Chroma server, as on Heroku: two web dynos
(`rapport serve`, Slack's HTTP events) and a worker (`rapport run`, Telegram long polling).

The real commands in their own processes, the real slack-bolt and python-telegram-bot, fake Slack and
Telegram servers on loopback recording what reached them. Every Slack message is answered exactly once
and in order per conversation, whichever web process Slack picked (redeliveries go to the other one);
an agent's words typed in Slack reach the web process, while the customer's Telegram connection lives
in the worker, which sends them at once (a Redis notice, not the 2 s sweep); the handoff's state is one.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import random
import socket
import sys
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from bot.store.outbox import reply_key
from tests.adapters.support import until_healthy
from tests.conftest import POSTGRES_URL, REQUIRE_POSTGRES
from tests.fakes.slack import BOT_TOKEN, SIGNING_SECRET, TEAM, FakeSlack, event_envelope, mention, signed_headers
from tests.fakes.telegram import CUSTOMER, TOKEN, FakeTelegram, private_message
from tests.store.test_vectors import chroma_server  # noqa: F401  (the session's real `chroma run`)

ROOT = Path(__file__).resolve().parents[2]
REDIS_URL = os.environ.get("RAPPORT_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
DESK = "C0DESK"
AGENT = "U0AGENT"
# Under this, a relay was sent on a notice: the worker's sweeper alone looks every 2 s.
NOTICE_LATENCY = 1.0
START_SECONDS = 300  # a process loads its models before it is healthy: slow on a crowded 2-core machine
QUESTIONS = ["how long does shipping take?", "what is your return policy?", "do you ship internationally?",
             "how do I start a return?", "what payment methods do you accept?", "can I change my delivery address?"]

pytestmark = pytest.mark.postgres


def _reachable(port: int) -> bool:
    with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
        return True
    return False


@pytest.fixture
def database(tmp_path: Path) -> Iterator[str]:
    """A fresh PostgreSQL database for the processes to share, dropped afterwards."""
    if not (_reachable(5432) and _reachable(6379)):
        problem = "PostgreSQL (127.0.0.1:5432) and Redis (127.0.0.1:6379) are both needed"
        if REQUIRE_POSTGRES:
            pytest.fail(problem)
        pytest.skip(problem)
    import asyncpg

    name = f"rapport_multi_{uuid.uuid4().hex[:12]}"

    async def admin(sql: str) -> None:
        connection = await asyncpg.connect(POSTGRES_URL)
        try:
            await connection.execute(sql)
        finally:
            await connection.close()

    asyncio.run(admin(f'CREATE DATABASE "{name}"'))
    try:
        yield f"{POSTGRES_URL.rsplit('/', 1)[0]}/{name}"
    finally:
        asyncio.run(admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(scope="session")
def knowledge_server(chroma_server: str, tmp_path_factory: pytest.TempPathFactory) -> str:  # noqa: F811
    """The session's Chroma server with knowledge/ indexed once: the processes find it there, as a second
    dyno finds what the first indexed, instead of each test paying for the embedding."""
    from bot.config import load_config
    from bot.runtime import Runtime

    config = load_config(ROOT / "config.yaml", env={})
    config = config.model_copy(update={"stores": config.stores.model_copy(update={"chroma_url": chroma_server})})

    async def ingest() -> None:
        async with Runtime.open(config, tmp_path_factory.mktemp("indexer")) as runtime:
            if await runtime.knowledge.is_empty():
                report = await runtime.ingest()
                assert not report.problems, report.problems

    asyncio.run(ingest())
    return chroma_server


class Cluster:
    """The processes of one deployment: same config, same services, a data directory each."""

    def __init__(self, tmp_path: Path, database: str, chroma: str, slack: FakeSlack, telegram: FakeTelegram,
                 desk: bool) -> None:
        self.tmp_path = tmp_path
        data = yaml.safe_load((ROOT / "config.yaml").read_text())
        for key in ("pages", "catalog"):
            data["knowledge"][key] = str(ROOT / data["knowledge"][key])
        data["platforms"]["slack"].update({"enabled": True, "mode": "http", "api_base_url": slack.api_url})
        data["platforms"]["telegram"].update({"enabled": True, "mode": "polling", "api_base_url": telegram.url})
        if desk:
            data["handoff"] = {"desk": "slack", "slack_channel": DESK}
        self.config = tmp_path / "config.yaml"
        self.config.write_text(yaml.safe_dump(data))
        self.env = {**os.environ, "DATABASE_URL": database, "REDIS_URL": REDIS_URL, "CHROMA_URL": chroma,
                    "SLACK_BOT_TOKEN": BOT_TOKEN, "SLACK_SIGNING_SECRET": SIGNING_SECRET,
                    "TELEGRAM_BOT_TOKEN": TOKEN, "ANONYMIZED_TELEMETRY": "False"}
        self._count = 0
        self.processes: list[asyncio.subprocess.Process] = []

    async def command(self, *args: str) -> asyncio.subprocess.Process:
        self._count += 1
        name = f"{args[0]}-{self._count}"
        log = (self.tmp_path / f"{name}.log").open("wb")  # a file, not a pipe: a full pipe would stall it
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot", *args, "--config", str(self.config),
            "--data-dir", str(self.tmp_path / f"data-{name}"), cwd=ROOT, env=self.env,
            stdout=log, stderr=log)
        log.close()
        process.log_path = self.tmp_path / f"{name}.log"  # type: ignore[attr-defined]
        return process

    async def upgrade(self) -> None:
        process = await self.command("db", "upgrade")
        assert await asyncio.wait_for(process.wait(), 60) == 0, _tail(process)

    @contextlib.asynccontextmanager
    async def deployment(self, telegram: FakeTelegram) -> AsyncIterator[list[httpx.AsyncClient]]:
        """Two web processes and a worker, started together; yields a client for each web process."""
        ports = free_ports(2)
        processes = [await self.command("serve", "--host", "127.0.0.1", "--port", str(port)) for port in ports]
        processes.append(await self.command("run"))
        self.processes = processes
        clients = [httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30) for port in ports]
        try:
            await asyncio.gather(*(self._healthy(p, port) for p, port in zip(processes, ports, strict=False)),
                                 self._polling(processes[2], telegram))
            yield clients
        finally:
            for client in clients:
                await client.aclose()
            await asyncio.gather(*(_end(p) for p in processes))

    @staticmethod
    async def _healthy(process: asyncio.subprocess.Process, port: int) -> None:
        try:
            await until_healthy(process, port, tries=START_SECONDS * 20)
        except AssertionError as problem:
            raise AssertionError(f"{problem}\n{_tail(process)}") from None

    @staticmethod
    async def _polling(process: asyncio.subprocess.Process, telegram: FakeTelegram) -> None:
        waiter = asyncio.ensure_future(telegram.log.wait_for("getMe", timeout=START_SECONDS))
        died = asyncio.ensure_future(process.wait())
        await asyncio.wait({waiter, died}, return_when=asyncio.FIRST_COMPLETED)
        if died.done():
            waiter.cancel()
            raise AssertionError(f"rapport run died:\n{_tail(process)}")
        died.cancel()
        await waiter


def _tail(process: asyncio.subprocess.Process) -> str:
    path: Path = process.log_path  # type: ignore[attr-defined]
    return path.read_text(errors="replace")[-3000:] if path.exists() else ""


async def _end(process: asyncio.subprocess.Process) -> None:
    if process.returncode is None:
        process.terminate()
        try:
            await asyncio.wait_for(process.wait(), 20)
        except TimeoutError:
            process.kill()
            await process.wait()


def free_ports(count: int) -> list[int]:
    probes = [socket.socket() for _ in range(count)]
    try:
        for probe in probes:
            probe.bind(("127.0.0.1", 0))
        return [int(probe.getsockname()[1]) for probe in probes]
    finally:
        for probe in probes:
            probe.close()


async def post_event(client: httpx.AsyncClient, body: bytes, retry: int = 0) -> int:
    headers = signed_headers(body, retry_num=retry or None)
    return (await client.post("/slack/events", content=body, headers=headers)).status_code


def envelope(event: dict[str, Any], event_id: str) -> bytes:
    body = event_envelope(event)
    body["event_id"] = event_id
    return json.dumps(body).encode()


def replies_by_thread(slack: FakeSlack) -> dict[str, list[str]]:
    """The delivery key of each bot reply (its first part), per thread, in the order Slack received them."""
    threads: dict[str, list[str]] = {}
    for call in slack.log.named("chat.postMessage"):
        metadata = call.params.get("metadata")
        metadata = json.loads(metadata) if isinstance(metadata, str) else metadata or {}
        payload = metadata.get("event_payload") or {}
        if metadata.get("event_type") == "rapport_reply" and not payload.get("part"):
            threads.setdefault(str(call.params.get("thread_ts")), []).append(payload["delivery_key"])
    return threads


async def until(predicate: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout:.0f}s: {what}")
        await asyncio.sleep(0.05)


# --- two web processes and a worker: every message answered once, in order ----------------------------


@pytest.mark.parametrize(("conversations", "messages"), [
    (6, 5),
    # The load variant, ~400 turns: RAPPORT_MULTI_PROCESS_LOAD=1 runs it; CI runs the bounded one.
    pytest.param(40, 10, marks=[pytest.mark.slow, pytest.mark.skipif(
        os.environ.get("RAPPORT_MULTI_PROCESS_LOAD") != "1", reason="load run: set RAPPORT_MULTI_PROCESS_LOAD=1")]),
], ids=["bounded", "load"])
async def test_two_web_processes_and_a_worker_answer_every_message_once_in_order(
    tmp_path: Path, database: str, knowledge_server: str, conversations: int, messages: int
) -> None:
    rng = random.Random(15)
    async with FakeSlack() as slack, FakeTelegram() as telegram:
        cluster = Cluster(tmp_path, database, knowledge_server, slack, telegram, desk=False)
        await cluster.upgrade()
        async with cluster.deployment(telegram) as webs:
            expected: dict[str, list[str]] = {}
            redelivered = 0

            async def converse(c: int) -> None:
                nonlocal redelivered
                root = f"{1700000000 + c * 1000}.000100"
                retries = []
                for m in range(messages):
                    ts = f"{1700000000 + c * 1000 + m + 1}.000100"
                    event = mention(f"{QUESTIONS[(c + m) % len(QUESTIONS)]} (note {m})", user=f"U0C{c:04d}",
                                    channel="C0SUPPORT", ts=ts, thread_ts=root)
                    body = envelope(event, f"Ev{c:04d}{m:04d}")
                    first = rng.randrange(2)
                    # Stored before the 200: the next message of the conversation comes after it.
                    assert await post_event(webs[first], body) == 200
                    expected.setdefault(root, []).append(reply_key("slack", f"C0SUPPORT:{ts}"))
                    if rng.random() < 0.3:  # Slack did not hear the ack in time: the other process gets it
                        redelivered += 1
                        retries.append(asyncio.ensure_future(post_event(webs[1 - first], body, retry=1)))
                    await asyncio.sleep(rng.random() * 0.05)
                assert all(status == 200 for status in await asyncio.gather(*retries))

            started = time.monotonic()
            await asyncio.gather(*(converse(c) for c in range(conversations)))
            total = conversations * messages
            try:
                await until(lambda: sum(map(len, replies_by_thread(slack).values())) >= total, 30 + total,
                            f"{total} replies")
            except AssertionError as late:
                got = sum(map(len, replies_by_thread(slack).values()))
                raise AssertionError(f"{late} (got {got})\n" + "\n".join(_tail(p) for p in cluster.processes)) from None
            elapsed = time.monotonic() - started
            await asyncio.sleep(3)  # longer than a sweep: time for any duplicate to show up

    answered = replies_by_thread(slack)
    keys = Counter(key for thread in answered.values() for key in thread)
    duplicated = sum(n - 1 for n in keys.values())
    lost = sum(1 for thread in expected.values() for key in thread if key not in keys)
    assert (lost, duplicated) == (0, 0), f"{lost} lost, {duplicated} duplicated"
    assert answered == expected  # each conversation's replies in the order its messages were sent
    print(f"\n{total} messages in {conversations} conversations over 2 web processes + 1 worker "
          f"({redelivered} redelivered to the other process): 0 lost, 0 duplicated, in order; "
          f"all answered {elapsed:.1f}s after the first was sent")


# --- the agents' desk: words typed in Slack, reaching a Telegram customer held by the worker ------------


def agent_says(text: str, thread: str, ts: str) -> bytes:
    event = {"type": "message", "channel": DESK, "channel_type": "channel", "user": AGENT, "text": text, "ts": ts,
             "thread_ts": thread, "event_ts": ts, "team": TEAM}
    return envelope(event, f"EvDesk{ts.replace('.', '')}")


def telegram_texts(telegram: FakeTelegram) -> list[str]:
    return [str(call.params.get("text", "")) for call in telegram.log.named("sendMessage")]


def desk_thread(slack: FakeSlack, summary_ts: str) -> list[str]:
    return [str(m.get("text")) for channel, thread, m in slack.history
            if channel == DESK and thread == summary_ts and m["ts"] != summary_ts]


async def test_an_agent_reply_reaching_a_web_process_is_sent_at_once_by_the_worker_holding_telegram(
    tmp_path: Path, database: str, knowledge_server: str
) -> None:
    async with FakeSlack() as slack, FakeTelegram() as telegram:
        cluster = Cluster(tmp_path, database, knowledge_server, slack, telegram, desk=True)
        await cluster.upgrade()
        async with cluster.deployment(telegram) as webs:

            # The customer asks for a person on Telegram: the worker runs the turn and opens the
            # handoff, posting its summary to the agents' Slack channel with a desk-only client.
            await telegram.push(private_message("I want to talk to a person", message_id=101))
            await until(lambda: any(c == DESK and t == m["ts"] for c, t, m in slack.history), 30, "the summary")
            summary_ts = next(m["ts"] for c, t, m in slack.history if c == DESK and t == m["ts"])
            await until(lambda: any("take over" in t for t in telegram_texts(telegram)), 10, "the handoff notice")

            # The agent types in the thread; Slack posts it to a web process, which holds no Telegram
            # connection. The worker sends it, woken by a notice, well before its next sweep.
            latencies = []
            words = ["Hi Ana, Sam here from support", "I can see your order now",
                     "A replacement ships today"]
            for n, text in enumerate(words):
                body = agent_says(text, summary_ts, f"1700000200.{n:06d}")
                sent_before = len(telegram.log.named("sendMessage"))
                assert await post_event(webs[n % 2], body) == 200  # relay stored before the ack
                acked = time.monotonic()
                await telegram.log.wait_for("sendMessage", count=sent_before + 1, timeout=10)
                latencies.append(time.monotonic() - acked)
                # Slack redelivers it to the other web process: not relayed twice.
                assert await post_event(webs[1 - n % 2], body, retry=1) == 200

            # The customer writes again, to the worker: the handoff claimed in a web process holds
            # there too — forwarded to the desk thread, not answered by the bot.
            answered = len(telegram.log.named("sendMessage"))
            await telegram.push(private_message("thanks, how long will it take?", message_id=102))
            await until(lambda: any("Customer wrote: thanks, how long will it take?" in t
                                    for t in desk_thread(slack, summary_ts)), 15, "the forward")

            # 'resolve' at the other web process: the worker asks the customer for a CSAT score,
            # and the bot answers the customer's next question again.
            assert await post_event(webs[1], agent_says("resolve", summary_ts, "1700000300.000100")) == 200
            resolved_at = time.monotonic()
            await until(lambda: any("Rate us" in t for t in telegram_texts(telegram)), 10, "the CSAT question")
            latencies.append(time.monotonic() - resolved_at)
            assert len(telegram.log.named("sendMessage")) == answered + 1  # the forward got no bot answer
            await telegram.push(private_message("how long does shipping take?", message_id=103))
            await until(lambda: any("3–5 business days" in t for t in telegram_texts(telegram)), 15,
                        "the bot's answer after the handoff")
            await asyncio.sleep(3)  # longer than a sweep: time for any duplicate to show up

    texts = telegram_texts(telegram)
    assert all(str(call.params["chat_id"]) == str(CUSTOMER["id"]) for call in telegram.log.named("sendMessage"))
    for text in words:
        assert sum(text in t for t in texts) == 1, (text, texts)
    assert sum("Rate us" in t for t in texts) == 1
    assert max(latencies) < NOTICE_LATENCY, latencies
    print(f"\nagent relays from a web process delivered by the worker in "
          f"{', '.join(f'{s * 1000:.0f}' for s in latencies)} ms")
