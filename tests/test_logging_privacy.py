"""What the web process logs and answers when a turn fails: ids, never what the customer wrote; 503 only for
an outage, 400 for a request that made our code fail (issue 9, items 8 and 9).

The real web app and the real TelegramAdapter, python-telegram-bot pointed at the fake Bot API on loopback.
"""

from __future__ import annotations

import json
import logging
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import httpx
import pytest
from sqlalchemy.exc import OperationalError

from adapters.telegram import TelegramAdapter
from adapters.web import create_web_app
from bot.config import Config, TelegramPlatform
from bot.errors import ServiceUnavailable
from bot.runtime import Runtime
from bot.types import Inbound, Reply
from tests.adapters.support import running
from tests.fakes.telegram import TOKEN, FakeTelegram, private_message

SECRET = "privacy-test_secret"
CARD = "4111 1111 1111 1111"
Handler = Callable[[Inbound], Awaitable[Reply | None]]


def everything_logged(records: list[logging.LogRecord]) -> str:
    formatter = logging.Formatter("%(name)s %(levelname)s %(message)s")
    return "\n".join(formatter.format(record) for record in records)


@pytest.fixture
async def fake_telegram() -> AsyncIterator[FakeTelegram]:
    async with FakeTelegram() as fake:
        yield fake


@pytest.fixture
def failing_with(fake_telegram: FakeTelegram) -> Callable[[BaseException], AsyncIterator[httpx.AsyncClient]]:
    """A client for the web app whose Telegram handler raises ``error`` (after seeing the message)."""

    async def serve(error: BaseException) -> AsyncIterator[httpx.AsyncClient]:
        async def handler(inbound: Inbound) -> Reply | None:
            raise error

        adapter = TelegramAdapter(TelegramPlatform(enabled=True, mode="webhook", bot_token=TOKEN,
                                                   webhook_secret=SECRET, api_base_url=fake_telegram.url))
        async with running(adapter.start(handler), adapter.stop, lambda: fake_telegram.log.wait_for("getMe")):
            app = create_web_app(telegram=adapter)
            async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://web") as client:
                yield client

    return serve


async def post_update(client: httpx.AsyncClient, text: str) -> httpx.Response:
    return await client.post("/telegram/webhook", content=json.dumps(private_message(text)),
                             headers={"X-Telegram-Bot-Api-Secret-Token": SECRET, "Content-Type": "application/json"})


async def test_a_turn_failing_on_its_input_is_400_and_logged_without_the_text(
    failing_with: Callable[[BaseException], AsyncIterator[httpx.AsyncClient]], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    async for client in failing_with(ValueError(f"cannot read {CARD!r}")):
        response = await post_update(client, f"my card is {CARD}, charge it")
    assert response.status_code == 400
    assert "Retry-After" not in response.headers
    logged = everything_logged(caplog.records)
    assert "telegram request failed on its input" in logged and "error=ValueError" in logged
    assert CARD not in logged and "charge it" not in logged


@pytest.mark.parametrize("outage", [
    ServiceUnavailable("cannot connect to the database", service="the database"),
    OperationalError("INSERT …", {}, ConnectionResetError("connection reset by peer")),
    ConnectionRefusedError(111, "Connection refused"),
], ids=["service-unavailable", "sqlalchemy-operational", "connection-refused"])
async def test_an_outage_during_a_turn_is_503_with_retry_after(
    failing_with: Callable[[BaseException], AsyncIterator[httpx.AsyncClient]], outage: BaseException,
    caplog: pytest.LogCaptureFixture,
) -> None:
    async for client in failing_with(outage):
        response = await post_update(client, f"my card is {CARD}")
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "5"
    assert CARD not in everything_logged(caplog.records)


async def test_health_logs_name_the_dependency_but_not_its_password(
    repo_config: Config, data_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"redis://:Hunter2-redis-pw@127.0.0.1:{port}/15"
    config = repo_config.model_copy(update={"stores": repo_config.stores.model_copy(update={"redis_url": url})})
    async with Runtime.open(config, data_dir) as runtime:
        report = await runtime.health()
    assert report["status"] == "down"
    logged = everything_logged(caplog.records)
    assert "redis is down: cannot reach Redis" in logged and str(port) in logged
    assert "Hunter2-redis-pw" not in logged
