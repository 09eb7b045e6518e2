"""Health and start-up: /healthz reports each dependency; an unreachable one at start-up is one clear error.

Dependencies are real: the Redis at 127.0.0.1:6379 (database 15), a closed loopback port for one that is
down, and a loopback listener that never answers for one that hangs.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest

from adapters.web import create_web_app
from bot.config import Config
from bot.runtime import Runtime

ROOT = Path(__file__).resolve().parent.parent
REDIS_URL = "redis://127.0.0.1:6379/15"
REQUIRE_REDIS = os.environ.get("RAPPORT_REQUIRE_REDIS") == "1"


def closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextlib.contextmanager
def silent_listener() -> Iterator[int]:
    """A loopback port that accepts connections (the kernel's backlog) and never says a word."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        yield listener.getsockname()[1]


def with_redis(config: Config, url: str) -> Config:
    return config.model_copy(update={"stores": config.stores.model_copy(update={"redis_url": url})})


@contextlib.asynccontextmanager
async def healthz_of(config: Config, data_dir: Path) -> AsyncIterator[httpx.Response]:
    """GET /healthz of the real web app, its health check the real Runtime's."""
    async with Runtime.open(config, data_dir) as runtime:
        app = create_web_app(health=runtime.health)
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://web") as client:
            yield await client.get("/healthz")


def require_redis() -> None:
    try:
        with socket.create_connection(("127.0.0.1", 6379), timeout=1):
            return
    except OSError as exc:
        if REQUIRE_REDIS:
            pytest.fail(f"RAPPORT_REQUIRE_REDIS=1 but Redis is not reachable at 127.0.0.1:6379 ({exc})")
        pytest.skip(f"Redis not reachable at 127.0.0.1:6379 ({exc})")


# --- /healthz (issue 9, item 10a) --------------------------------------------------------------------


async def test_healthz_is_503_naming_redis_when_redis_is_unreachable(repo_config: Config, data_dir: Path) -> None:
    async with healthz_of(with_redis(repo_config, f"redis://127.0.0.1:{closed_port()}/15"), data_dir) as response:
        assert response.status_code == 503
        report = response.json()
    assert report["status"] == "down"
    assert report["checks"]["redis"] == {"status": "down", "error": "ConnectionError"}
    assert report["checks"]["database"]["status"] == "ok" and report["checks"]["vectors"]["status"] == "ok"


async def test_healthz_is_200_with_every_dependency_up(repo_config: Config, data_dir: Path) -> None:
    require_redis()
    async with healthz_of(with_redis(repo_config, REDIS_URL), data_dir) as response:
        assert response.status_code == 200, response.text
        report = response.json()
    assert report["status"] == "ok"
    assert set(report["checks"]) == {"database", "redis", "vectors"}
    assert all(check["status"] == "ok" for check in report["checks"].values())
    assert report["platforms"] == {}


async def test_a_redis_that_never_answers_is_down_within_the_timeout(repo_config: Config, data_dir: Path) -> None:
    with silent_listener() as port:
        started = time.monotonic()
        async with healthz_of(with_redis(repo_config, f"redis://127.0.0.1:{port}/15"), data_dir) as response:
            elapsed = time.monotonic() - started
    assert response.status_code == 503
    assert response.json()["checks"]["redis"] == {"status": "down", "error": "no answer within 2s"}
    # Runtime.open (models, stores) takes a few seconds of its own; the check adds at most its 2 s timeout.
    assert elapsed < 30


async def test_without_redis_configured_there_is_no_redis_check(runtime: Runtime) -> None:
    report = await runtime.health()
    assert report["status"] == "ok"
    assert set(report["checks"]) == {"database", "vectors"}  # type: ignore[arg-type]


async def test_healthz_without_a_health_check_lists_the_platforms_only() -> None:
    app = create_web_app()
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://web") as client:
        response = await client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "platforms": {}}


# --- start-up errors: one message with the fix, exit 1, no traceback (issue 9, item 10b) -------------


def rapport(*args: str, env: dict[str, str], stdin: str = "") -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL", "CHROMA_URL"}}
    return subprocess.run([sys.executable, "-m", "bot", *args], cwd=ROOT, env={**clean, **env}, input=stdin,
                          capture_output=True, text=True, timeout=180)


def assert_one_clear_error(result: subprocess.CompletedProcess[str], *expected: str) -> None:
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr and "Traceback" not in result.stdout
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, result.stderr
    assert "fix:" in result.stderr
    output = " ".join(result.stderr.split())
    for text in expected:
        assert text in output, result.stderr
    assert len(result.stderr.splitlines()) < 10  # not a 550-line traceback


def test_a_wrong_database_port_is_one_message_naming_the_database(tmp_path: Path) -> None:
    url = "postgresql://postgres:s3cret-pw@127.0.0.1:1/test"
    for command in (["db", "upgrade"], ["chat"]):
        result = rapport(*command, "--data-dir", str(tmp_path / "data"), env={"DATABASE_URL": url})
        assert_one_clear_error(result, "cannot connect to the database at postgresql+asyncpg://postgres:***@127.0.0.1:1/test",
                               "check DATABASE_URL")
        assert "s3cret-pw" not in result.stderr


def test_an_unknown_database_scheme_is_one_message(tmp_path: Path) -> None:
    result = rapport("db", "upgrade", "--data-dir", str(tmp_path / "data"),
                     env={"DATABASE_URL": "mysql://admin:s3cret-pw@db.internal/shop"})
    assert_one_clear_error(result, "stores.database_url: must start with postgres://",
                           "(got 'mysql://admin:***@db.internal/shop')", "fix: write postgres://")
    assert "s3cret-pw" not in result.stderr


def test_an_unreachable_redis_stops_chat_at_start_up(data_dir: Path) -> None:
    result = rapport("chat", "--data-dir", str(data_dir), env={"REDIS_URL": f"redis://127.0.0.1:{closed_port()}/15"})
    assert_one_clear_error(result, "cannot reach redis: ConnectionError", "REDIS_URL")


def test_an_unreachable_chroma_server_is_one_message(tmp_path: Path) -> None:
    result = rapport("ingest", "--data-dir", str(tmp_path / "data"),
                     env={"CHROMA_URL": f"http://127.0.0.1:{closed_port()}"})
    assert_one_clear_error(result, "cannot reach the Chroma server", "stores.chroma_url")
