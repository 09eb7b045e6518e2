"""`rapport run` and `rapport serve` as processes: every platform in one loop, clear start-up errors, Procfile."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import sys
from pathlib import Path

import httpx
import pytest
import typer
from typer.testing import CliRunner

from adapters.discord import DiscordAdapter
from adapters.slack import SlackAdapter
from adapters.telegram import TelegramAdapter
from bot.cli import platforms
from bot.embedder import MODEL_CACHE_ENV, PREPARED_NAME
from bot.config import Config, DiscordPlatform, SlackPlatform, TelegramPlatform
from bot.errors import ConfigError
from tests.adapters.support import Turns, running, until_healthy, web_process, with_platforms
from tests.fakes.discord import DM_CHANNEL_ID, FakeDiscord, message_payload
from tests.fakes.slack import FakeSlack, direct_message, event_envelope
from tests.fakes.telegram import TOKEN, FakeTelegram, private_message

ROOT = Path(__file__).resolve().parents[2]


async def test_one_run_process_serves_slack_discord_and_telegram_at_once(
    repo_config: Config, data_dir: Path, engine_turns: Turns
) -> None:
    async with FakeSlack() as slack, FakeDiscord() as discord, FakeTelegram() as telegram:
        config = with_platforms(
            repo_config,
            slack=SlackPlatform(enabled=True, bot_token="xoxb-test", app_token="xapp-test", api_base_url=slack.api_url),
            discord=DiscordPlatform(enabled=True, bot_token="discord-test-token", api_base_url=discord.api_url),
            telegram=TelegramPlatform(enabled=True, bot_token=TOKEN, api_base_url=telegram.url),
        )
        stop = asyncio.Event()

        async def connected() -> None:
            await asyncio.gather(slack.log.wait_for("apps.connections.open"), discord.identified.wait(),
                                 telegram.log.wait_for("getMe"))

        async def stop_running() -> None:
            stop.set()

        async with running(platforms.run(config, data_dir, stop=stop), stop_running, connected):
            await asyncio.gather(
                slack.push("events_api", event_envelope(direct_message("how long does shipping take?"))),
                discord.dispatch("MESSAGE_CREATE", message_payload("what is your return policy?",
                                                                   channel_id=DM_CHANNEL_ID, guild=False)),
                telegram.push(private_message("how do I start a return?", message_id=90)),
            )
            [slack_post], [discord_post], [telegram_post] = await asyncio.gather(
                slack.log.wait_for("chat.postMessage"), discord.log.wait_for("create_message"),
                telegram.log.wait_for("sendMessage"),
            )
        assert "3–5 business days" in slack_post.params["text"]
        assert "30 days" in discord_post.params["content"]
        assert telegram_post.params["chat_id"] == "555001" and "return" in telegram_post.params["text"].lower()
        assert {inbound.platform for inbound, _ in engine_turns.done} == {"slack", "discord", "telegram"}


async def test_serve_reports_its_health_and_platforms(repo_config: Config, data_dir: Path) -> None:
    async with FakeTelegram() as telegram:
        config = with_platforms(repo_config, telegram=TelegramPlatform(
            enabled=True, mode="webhook", bot_token=TOKEN, webhook_secret="secret", api_base_url=telegram.url))
        async with web_process(config, data_dir) as client:
            health = await client.get("/healthz")
            assert health.status_code == 200
            report = health.json()
            assert report["status"] == "ok" and report["platforms"] == {"telegram": "webhook"}
            assert {name: check["status"] for name, check in report["checks"].items()} == {"database": "ok",
                                                                                           "vectors": "ok"}
            assert (await client.post("/slack/events", content=b"{}")).status_code == 404  # Slack not in HTTP mode


def cli() -> typer.Typer:
    app = typer.Typer()

    @app.callback()
    def main() -> None:
        """rapport"""

    platforms.register(app)
    return app


def write_config(tmp_path: Path, platforms_yaml: str) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(f"knowledge:\n  pages: {ROOT}/knowledge/pages\n  catalog: {ROOT}/knowledge/catalog.csv\n"
                    f"platforms:\n{platforms_yaml}")
    return path


@pytest.mark.parametrize(
    ("command", "platforms_yaml", "env", "expected"),
    [
        ("run", "  slack:\n    enabled: true\n    bot_token: ${SLACK_BOT_TOKEN:-}\n    app_token: ${SLACK_APP_TOKEN:-}\n",
         {"SLACK_BOT_TOKEN": "xoxb-1"}, ["platforms.slack.app_token is empty: set SLACK_APP_TOKEN"]),
        ("run", "  discord:\n    enabled: true\n    bot_token: ${DISCORD_BOT_TOKEN:-}\n"
                "  telegram:\n    enabled: true\n    bot_token: ${TELEGRAM_BOT_TOKEN:-}\n",
         {}, ["platforms.discord.bot_token is empty: set DISCORD_BOT_TOKEN",
              "platforms.telegram.bot_token is empty: set TELEGRAM_BOT_TOKEN"]),
        ("serve", "  slack:\n    enabled: true\n    mode: http\n    bot_token: ${SLACK_BOT_TOKEN:-}\n"
                  "    signing_secret: ${SLACK_SIGNING_SECRET:-}\n",
         {"SLACK_BOT_TOKEN": "xoxb-1"}, ["platforms.slack.signing_secret is empty: set SLACK_SIGNING_SECRET"]),
        ("serve", "  telegram:\n    enabled: true\n    mode: webhook\n    bot_token: t\n"
                  "    webhook_secret: ${TELEGRAM_WEBHOOK_SECRET:-}\n",
         {}, ["platforms.telegram.webhook_secret: is empty, but mode: webhook needs it", "set TELEGRAM_WEBHOOK_SECRET"]),
        ("run", "  slack:\n    enabled: true\n    mode: http\n", {},
         ["nothing for `rapport run` to connect", "platforms.slack with mode: socket"]),
    ],
)
def test_enabled_platform_without_its_token_stops_at_start_up_naming_the_variable(
    tmp_path: Path, command: str, platforms_yaml: str, env: dict[str, str], expected: list[str]
) -> None:
    config = write_config(tmp_path, platforms_yaml)
    clean = {name: "" for name in ("SLACK_BOT_TOKEN", "SLACK_APP_TOKEN", "SLACK_SIGNING_SECRET", "DISCORD_BOT_TOKEN",
                                   "TELEGRAM_BOT_TOKEN", "TELEGRAM_WEBHOOK_SECRET")}
    result = CliRunner().invoke(cli(), [command, "--config", str(config), "--data-dir", str(tmp_path / "data")],
                                env={**clean, **env})
    assert result.exit_code == 1
    output = " ".join(result.output.split())
    for line in expected:
        assert line in output
    assert "Traceback" not in result.output
    assert not (tmp_path / "data").exists()  # refused before opening any store


def test_procfile_runs_web_worker_and_release() -> None:
    lines = (ROOT / "Procfile").read_text().splitlines()
    assert lines == ["web: rapport serve", "worker: rapport run", "release: rapport db upgrade"]


async def test_serve_process_listens_on_port_and_stops_cleanly_on_sigterm(tmp_path: Path, data_dir: Path) -> None:
    """The real command in its own process, as a web dyno runs it: $PORT, /healthz, SIGTERM → exit 0; the
    embedding model is prepared at start-up, before any message (a fresh dyno's empty cache)."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    listener.close()
    cache = tmp_path / "model-cache"
    script = ("import typer; from bot.cli import platforms; app = typer.Typer(); "
              "app.callback()(lambda: None); platforms.register(app); app()")
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-c", script, "serve", "--host", "127.0.0.1", "--config", str(ROOT / "config.yaml"),
        "--data-dir", str(data_dir), cwd=ROOT, env={**os.environ, "PORT": str(port), MODEL_CACHE_ENV: str(cache)},
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )
    try:
        await until_healthy(process, port)
        assert list(cache.glob(f"*/{PREPARED_NAME}")), "serve did not prepare the embedding model at start-up"
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
            report = (await client.get("/healthz")).json()
            assert report["status"] == "ok" and report["platforms"] == {}
        process.send_signal(signal.SIGTERM)
        _, stderr = await asyncio.wait_for(process.communicate(), 20)
        assert process.returncode == 0, stderr.decode()
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()


class FlakyAdapter:
    """Fails on its first start, then runs until stopped, like a platform that was briefly unreachable."""

    def __init__(self, platform: str, failures: int) -> None:
        self.platform = platform
        self.failures = failures
        self.starts = 0
        self._stopped = asyncio.Event()

    async def start(self, handler: object, feedback: object = None) -> None:
        self.starts += 1
        if self.starts <= self.failures:
            raise ConnectionError(f"{self.platform} gateway unreachable")
        await self._stopped.wait()

    async def send(self, reply: object) -> None:
        raise NotImplementedError

    async def stop(self) -> None:
        self._stopped.set()


async def test_a_failing_platform_is_logged_and_restarted_while_the_others_keep_running(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(platforms, "FIRST_RESTART_DELAY", 0.01)
    flaky, steady = FlakyAdapter("discord", failures=2), FlakyAdapter("telegram", failures=0)

    async def unused(item: object) -> None:
        raise AssertionError

    async with platforms.supervised([flaky, steady], unused, unused):  # type: ignore[list-item]
        for _ in range(200):
            if flaky.starts == 3:
                break
            await asyncio.sleep(0.01)
    assert (flaky.starts, steady.starts) == (3, 1)
    failures = [r for r in caplog.records if r.name == "rapport.platforms" and r.levelname == "ERROR"]
    assert len(failures) == 2 and "discord failed" in failures[0].getMessage()
    assert "gateway unreachable" in str(failures[0].exc_info[1])


async def test_a_rejected_token_is_reported_with_the_variable_to_fix() -> None:
    async with FakeSlack() as slack, FakeDiscord() as discord, FakeTelegram() as telegram:
        adapters = [
            (SlackAdapter(SlackPlatform(enabled=True, bot_token="xoxb-revoked", app_token="xapp-test",
                                        api_base_url=slack.api_url)), "SLACK_BOT_TOKEN"),
            (DiscordAdapter(DiscordPlatform(enabled=True, bot_token="wrong", api_base_url=discord.api_url)),
             "DISCORD_BOT_TOKEN"),
            (TelegramAdapter(TelegramPlatform(enabled=True, bot_token="999:wrong", api_base_url=telegram.url)),
             "TELEGRAM_BOT_TOKEN"),
        ]

        async def unused(item: object) -> None:
            raise AssertionError

        for adapter, variable in adapters:
            with pytest.raises(ConfigError) as raised:
                await asyncio.wait_for(adapter.start(unused), 10)
            assert "rejected" in raised.value.message and variable in raised.value.fix


async def test_serve_mounts_the_admin_console_behind_admin_token(
    repo_config: Config, data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with web_process(repo_config, data_dir) as client:
        off = await client.get("/admin/")
        assert off.status_code == 404 and "ADMIN_TOKEN" in off.text  # says how to turn it on
    monkeypatch.setenv("ADMIN_TOKEN", "a-long-enough-admin-token-for-tests")
    async with web_process(repo_config, data_dir) as client:
        assert (await client.get("/admin/login")).status_code == 200
        assert (await client.get("/admin/", follow_redirects=False)).status_code in {302, 303}
        metrics = await client.get("/metrics")
        assert metrics.status_code == 200 and "rapport_" in metrics.text
