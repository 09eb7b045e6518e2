"""Shared fixtures. Any attempt to reach beyond loopback fails the test that makes it."""

from __future__ import annotations

import asyncio
import ipaddress
import os
import shutil
import socket
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from bot.config import Config, load_config
from bot.runtime import Runtime
from tests.recording import RecordingAdapter

ROOT = Path(__file__).resolve().parent.parent
POSTGRES_URL = os.environ.get("RAPPORT_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
REQUIRE_POSTGRES = os.environ.get("RAPPORT_REQUIRE_POSTGRES") == "1"


class NetworkBlocked(RuntimeError):
    pass


def _loopback(host: object) -> bool:
    if not isinstance(host, str):
        return True  # unix sockets and the like
    if host in {"localhost", ""}:
        return True
    try:
        return ipaddress.ip_address(host.split("%")[0]).is_loopback
    except ValueError:
        return False


_real_connect = socket.socket.connect
_real_connect_ex = socket.socket.connect_ex
_real_getaddrinfo = socket.getaddrinfo


def _guarded_connect(self: socket.socket, address: object) -> object:
    if self.family in (socket.AF_INET, socket.AF_INET6) and not _loopback(address[0]):  # type: ignore[index]
        raise NetworkBlocked(f"test tried to reach {address}; tests may only talk to loopback")
    return _real_connect(self, address)  # type: ignore[arg-type]


def _guarded_connect_ex(self: socket.socket, address: object) -> int:
    if self.family in (socket.AF_INET, socket.AF_INET6) and not _loopback(address[0]):  # type: ignore[index]
        raise NetworkBlocked(f"test tried to reach {address}; tests may only talk to loopback")
    return _real_connect_ex(self, address)  # type: ignore[arg-type]


def _guarded_getaddrinfo(host: object, *args: object, **kwargs: object) -> object:
    if isinstance(host, bytes):
        host = host.decode()
    if host is not None and not _loopback(host):
        raise NetworkBlocked(f"test tried to resolve {host!r}; tests may only talk to loopback")
    return _real_getaddrinfo(host, *args, **kwargs)  # type: ignore[arg-type]


def pytest_configure(config: pytest.Config) -> None:
    socket.socket.connect = _guarded_connect  # type: ignore[method-assign]
    socket.socket.connect_ex = _guarded_connect_ex  # type: ignore[method-assign]
    socket.getaddrinfo = _guarded_getaddrinfo  # type: ignore[assignment]
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ.pop("DATABASE_URL", None)


@pytest.fixture
def repo_config() -> Config:
    return load_config(ROOT / "config.yaml", env={})


@pytest.fixture(scope="session")
def ingested_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data directory with the sample knowledge ingested once per test session."""
    data = tmp_path_factory.mktemp("ingested")

    async def build() -> None:
        async with Runtime.open(load_config(ROOT / "config.yaml", env={}), data) as runtime:
            report = await runtime.ingest()
            assert not report.problems, report.problems

    asyncio.run(build())
    return data


@pytest.fixture
def data_dir(ingested_data: Path, tmp_path: Path) -> Path:
    """A private copy of the ingested data directory: tests may write to it freely."""
    target = tmp_path / "data"
    shutil.copytree(ingested_data, target)
    return target


@pytest.fixture
async def runtime(repo_config: Config, data_dir: Path) -> AsyncIterator[Runtime]:
    async with Runtime.open(repo_config, data_dir) as opened:
        yield opened


@pytest.fixture
def recorder(runtime: Runtime) -> RecordingAdapter:
    return RecordingAdapter(runtime.engine.handle)


def _postgres_reachable() -> str | None:
    try:
        with socket.create_connection(("127.0.0.1", 5432), timeout=1):
            return None
    except OSError as exc:
        return f"PostgreSQL not reachable at 127.0.0.1:5432 ({exc}); set RAPPORT_TEST_POSTGRES_URL"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database: a SQLite file, or a fresh PostgreSQL database dropped afterwards."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'test.db'}"
        return
    problem = _postgres_reachable()
    if problem:
        if REQUIRE_POSTGRES:
            pytest.fail(f"RAPPORT_REQUIRE_POSTGRES=1 but {problem}")
        pytest.skip(problem)
    import asyncpg

    name = f"rapport_test_{uuid.uuid4().hex[:12]}"
    admin_url = POSTGRES_URL

    async def admin(sql: str) -> None:
        connection = await asyncpg.connect(admin_url)
        try:
            await connection.execute(sql)
        finally:
            await connection.close()

    asyncio.run(admin(f'CREATE DATABASE "{name}"'))
    base = admin_url.rsplit("/", 1)[0]
    try:
        yield f"{base}/{name}"
    finally:
        asyncio.run(admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
