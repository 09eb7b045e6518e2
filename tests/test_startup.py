"""`rapport serve` and `rapport run` start by importing what their configuration uses, and nothing heavier.

Each command runs as its own process from the real entry point; once it is ready (``/healthz`` answers 200,
or the fake Telegram saw its first ``getUpdates``) the test asks it, by SIGUSR1, to write the names in its
``sys.modules`` to a file, then stops it. The data directory is already migrated and indexed, so no
migration (Alembic) and no ingest is due.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path

import httpx
import pytest

from tests.fakes.telegram import TOKEN, FakeTelegram

ROOT = Path(__file__).resolve().parent.parent

# The command's own entry point, with one addition: SIGUSR1 writes the loaded modules' names to argv[1].
SCRIPT = """
import json, os, signal, sys
modules_file = sys.argv.pop(1)

def dump(signum, frame):
    with open(modules_file + ".part", "w") as out:
        json.dump(sorted(sys.modules), out)
    os.replace(modules_file + ".part", modules_file)  # whole, or not there yet

signal.signal(signal.SIGUSR1, dump)
sys.argv[0] = "rapport"
from bot.cli.app import main
main()
"""

# Seconds each costs to import on a busy 2-core machine, and never needed by a configuration without it.
SLACK = ("slack_bolt", "slack_sdk", "aiohttp")  # aiohttp: Slack's HTTP client (Discord's too)
DISCORD = ("discord",)
LLM = ("openai", "tiktoken")
MIGRATIONS = ("alembic",)  # the schema is checked with one SELECT; Alembic loads only to migrate
# Redis without stores.redis_url (~0.6 s); the page splitter, which only ingest needs (~0.4 s).
UNUSED = ("redis", "langchain_text_splitters")
WEB = ("uvicorn", "starlette", "jinja2")  # the web process's, not the worker's
# Environment variables that would switch on a store or platform (they must not leak in from the shell).
SWITCHES = ("DATABASE_URL", "REDIS_URL", "CHROMA_URL", "OPENAI_API_KEY", "SLACK_BOT_TOKEN", "SLACK_APP_TOKEN",
            "SLACK_SIGNING_SECRET", "DISCORD_BOT_TOKEN", "ADMIN_TOKEN")


def telegram_config(folder: Path, api_url: str) -> Path:
    """The repository's config.yaml with Telegram's API at the fake; knowledge/ linked beside it."""
    head, tail = (ROOT / "config.yaml").read_text().split("  telegram:", 1)
    (folder / "config.yaml").write_text(head + "  telegram:" + tail.replace('api_base_url: ""', f'api_base_url: "{api_url}"', 1))
    (folder / "knowledge").symlink_to(ROOT / "knowledge")
    return folder / "config.yaml"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


async def modules_at_ready(tmp_path: Path, args: list[str], env: dict[str, str],
                           ready: Callable[[asyncio.subprocess.Process], Awaitable[None]]) -> set[str]:
    """Start ``rapport ARGS``, wait for ``ready``, return the names in its sys.modules, stop it (exit 0)."""
    modules_file = tmp_path / "modules.json"
    base = {k: v for k, v in os.environ.items() if k not in SWITCHES}
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-c", SCRIPT, str(modules_file), *args, cwd=ROOT, env={**base, **env},
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
    )
    try:
        await asyncio.wait_for(ready(process), 120)
        process.send_signal(signal.SIGUSR1)
        for _ in range(200):
            if modules_file.exists():
                break
            await asyncio.sleep(0.05)
        modules = set(json.loads(modules_file.read_text()))
        process.send_signal(signal.SIGTERM)
        _, stderr = await asyncio.wait_for(process.communicate(), 30)
        assert process.returncode == 0, stderr.decode()[-2000:]
        return modules
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()


def healthz(port: int) -> Callable[[asyncio.subprocess.Process], Awaitable[None]]:
    async def ready(process: asyncio.subprocess.Process) -> None:
        async with httpx.AsyncClient() as client:
            while True:
                if process.returncode is not None:
                    raise AssertionError(f"serve exited {process.returncode}: {(await process.stderr.read()).decode()[-2000:]}")  # type: ignore[union-attr]
                try:
                    if (await client.get(f"http://127.0.0.1:{port}/healthz")).status_code == 200:
                        return
                except httpx.TransportError:
                    pass
                await asyncio.sleep(0.1)

    return ready


def loaded(modules: set[str], packages: tuple[str, ...]) -> list[str]:
    return sorted(p for p in packages if p in modules)


async def test_serve_without_platforms_loads_no_platform_sdk_nor_alembic(tmp_path: Path, data_dir: Path) -> None:
    port = free_port()
    modules = await modules_at_ready(
        tmp_path, ["serve", "--host", "127.0.0.1", "--port", str(port), "--config", str(ROOT / "config.yaml"),
                   "--data-dir", str(data_dir)], {}, healthz(port))
    assert "uvicorn" in modules and "bot.runtime" in modules  # the list is the serving process's own
    assert loaded(modules, SLACK + DISCORD + ("telegram",) + LLM + MIGRATIONS + UNUSED) == []


async def test_serve_with_telegram_webhook_loads_telegram_alone(tmp_path: Path, data_dir: Path) -> None:
    port = free_port()
    async with FakeTelegram() as telegram:
        env = {"TELEGRAM_ENABLED": "true", "TELEGRAM_BOT_TOKEN": TOKEN, "TELEGRAM_MODE": "webhook",
               "TELEGRAM_WEBHOOK_SECRET": "secret"}
        config = telegram_config(tmp_path, telegram.url)
        modules = await modules_at_ready(
            tmp_path, ["serve", "--host", "127.0.0.1", "--port", str(port), "--config", str(config),
                       "--data-dir", str(data_dir)], env, healthz(port))
    assert "telegram" in modules
    assert loaded(modules, SLACK + DISCORD + LLM + MIGRATIONS) == []


async def test_run_with_telegram_polling_loads_neither_other_sdks_nor_the_web_app(tmp_path: Path, data_dir: Path) -> None:
    async with FakeTelegram() as telegram:
        env = {"TELEGRAM_ENABLED": "true", "TELEGRAM_BOT_TOKEN": TOKEN, "TELEGRAM_MODE": "polling"}
        config = telegram_config(tmp_path, telegram.url)

        async def first_poll(process: asyncio.subprocess.Process) -> None:
            while not telegram.polled:
                if process.returncode is not None:
                    raise AssertionError(f"run exited {process.returncode}")
                await asyncio.sleep(0.1)

        modules = await modules_at_ready(
            tmp_path, ["run", "--config", str(config), "--data-dir", str(data_dir)], env, first_poll)
    assert "telegram" in modules
    assert loaded(modules, SLACK + DISCORD + LLM + MIGRATIONS + WEB) == []


RUNTIME = ("bot.runtime", "sqlmodel", "numpy", "chromadb")


@pytest.mark.parametrize(("command", "not_loaded"), [
    (["--help"], RUNTIME + MIGRATIONS + SLACK),
    (["config", "check", str(ROOT / "config.yaml")], ("chromadb",) + MIGRATIONS + SLACK),  # it reads the intent file
])
def test_commands_that_open_no_store_load_no_store(command: list[str], not_loaded: tuple[str, ...]) -> None:
    probe = ("import sys\nsys.argv = ['rapport', *sys.argv[1:]]\nfrom bot.cli.app import main\n"
             "try:\n    main()\nexcept SystemExit:\n    pass\nprint(' '.join(sorted(sys.modules)))")
    result = subprocess.run([sys.executable, "-c", probe, *command], cwd=ROOT, capture_output=True, text=True,
                            timeout=120, env={k: v for k, v in os.environ.items() if k not in SWITCHES})
    modules = set(result.stdout.rstrip("\n").rsplit("\n", 1)[-1].split())
    assert "typer" in modules, result.stderr  # the probe saw the command's own modules
    assert loaded(modules, not_loaded) == []
