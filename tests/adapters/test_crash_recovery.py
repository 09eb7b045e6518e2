"""kill -9 `rapport serve` with turns in flight, start it again, let Slack redeliver: every message is
answered exactly once. The real command in its own process, the real slack-bolt, a fake Slack."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import socket
import sys
import time
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
import yaml

from aiohttp import web

from tests.adapters.support import until_healthy
from tests.fakes.slack import BOT_TOKEN, SIGNING_SECRET, FakeSlack, event_envelope, mention, signed_headers

ROOT = Path(__file__).resolve().parents[2]
IN_FLIGHT = 20


class SlowSlack(FakeSlack):
    """Slack far away. ``lost_on_the_way``: a post takes a while to arrive, and one whose sender died
    meanwhile never does. Otherwise Slack posts at once and its answer takes a while: a sender killed
    meanwhile never learns that its reply went out."""

    def __init__(self, lost_on_the_way: bool) -> None:
        super().__init__()
        self.latency = 0.0
        self.lost_on_the_way = lost_on_the_way

    async def _api(self, request: web.Request) -> web.Response:
        if request.match_info["method"] != "chat.postMessage" or not self.latency:
            return await super()._api(request)
        if self.lost_on_the_way:
            await asyncio.sleep(self.latency)
            if request.transport is None or request.transport.is_closing():
                return web.Response(status=499)  # the process was killed mid-request: nothing was posted
            return await super()._api(request)
        answer = await super()._api(request)
        await asyncio.sleep(self.latency)
        return answer


def serve_config(tmp_path: Path, api_url: str) -> Path:
    """The repository's config.yaml with Slack in HTTP mode against the fake, knowledge paths absolute."""
    data = yaml.safe_load((ROOT / "config.yaml").read_text())
    for key in ("pages", "catalog"):
        data["knowledge"][key] = str(ROOT / data["knowledge"][key])
    data["platforms"]["slack"].update({"enabled": True, "mode": "http", "api_base_url": api_url})
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextlib.asynccontextmanager
async def serve_process(config: Path, data_dir: Path, port: int) -> AsyncIterator[asyncio.subprocess.Process]:
    env = {**os.environ, "PORT": str(port), "SLACK_BOT_TOKEN": BOT_TOKEN, "SLACK_SIGNING_SECRET": SIGNING_SECRET,
           "DATABASE_URL": "", "REDIS_URL": ""}
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "serve", "--host", "127.0.0.1", "--config", str(config),
        "--data-dir", str(data_dir), cwd=ROOT, env=env,
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
    )
    try:
        await until_healthy(process, port)
        yield process
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()


def signed_event(n: int) -> tuple[bytes, str]:
    ts = f"{1700000000 + n}.000100"
    body = event_envelope(mention(f"how long does shipping take? (asking for order {n})", channel="C0SUPPORT", ts=ts))
    body["event_id"] = f"Ev{n:08d}"
    return json.dumps(body).encode(), ts


async def post(client: httpx.AsyncClient, body: bytes, retry: int = 0) -> int:
    headers = {**signed_headers(body), "Content-Type": "application/json"}
    if retry:
        headers |= {"X-Slack-Retry-Num": str(retry), "X-Slack-Retry-Reason": "http_timeout"}
    return (await client.post("/slack/events", content=body, headers=headers)).status_code


@pytest.mark.parametrize("lost_on_the_way", [True, False], ids=["posts-lost-in-flight", "posts-made-unacknowledged"])
async def test_kill_9_with_turns_in_flight_then_restart_answers_each_message_exactly_once(
    tmp_path: Path, data_dir: Path, lost_on_the_way: bool
) -> None:
    async with SlowSlack(lost_on_the_way) as slack:
        slack.latency = 2.0  # the kill comes while turns run and replies are on their way
        config = serve_config(tmp_path, slack.api_url)
        port = free_port()
        events = [signed_event(n) for n in range(IN_FLIGHT)]
        async with serve_process(config, data_dir, port) as first:
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=10) as client:
                statuses = await asyncio.gather(*(post(client, body) for body, _ in events))
            assert statuses == [200] * IN_FLIGHT  # every message acknowledged: Slack will not send it again
            await asyncio.sleep(0.5)  # the turns run; their posts are on their way
            answered_before = len(slack.log.named("chat.postMessage"))
            first.send_signal(signal.SIGKILL)
            await first.wait()
        # Every reply was still unconfirmed when the process died (posted or not, it never heard back).

        slack.latency = 0.0
        started = time.monotonic()
        async with serve_process(config, data_dir, port):
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=10) as client:
                # Slack redelivers what it is unsure of (here: all of it) right after the restart.
                statuses = await asyncio.gather(*(post(client, body, retry=1) for body, _ in events))
                assert all(s == 200 for s in statuses)
                await slack.log.wait_for("chat.postMessage", count=IN_FLIGHT, timeout=60)
                await asyncio.sleep(3)  # time for any duplicate to show up
            recovered_in = time.monotonic() - started
        threads = Counter(call.params.get("thread_ts") for call in slack.log.named("chat.postMessage"))
        assert threads == Counter({ts: 1 for _, ts in events}), threads
        print(f"\n{IN_FLIGHT} in flight at kill -9 ({answered_before} posts had reached Slack unconfirmed), all "
              f"{IN_FLIGHT} answered exactly once {recovered_in:.1f}s after the restart began")
