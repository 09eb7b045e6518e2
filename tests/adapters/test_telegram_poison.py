"""Authenticated junk never costs a 5xx and never stops the bot: the real python-telegram-bot, the webhook
through ``create_web_app`` (httpx's ASGI transport), long polling against the fake Bot API.

A poison update (one nothing can read) is acknowledged and dropped, so Telegram does not redeliver it
forever; the only deliberate 5xx is a handler that could not take the message.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest

from adapters.telegram import TelegramAdapter
from adapters.web import create_web_app
from bot.config import TelegramPlatform
from bot.types import Inbound, Reply
from tests.adapters.support import Turns, running, sample_reply
from tests.fakes.telegram import CUSTOMER, TOKEN, FakeTelegram, private_message

SECRET = "s3cr3t-Webhook_token"
HEADERS = {"X-Telegram-Bot-Api-Secret-Token": SECRET, "Content-Type": "application/json"}


async def answer(inbound: Inbound) -> Reply:
    """A handler that stores nothing and answers every message (the fake shows what was answered)."""
    return sample_reply(inbound.conversation, inbound.message_id, text=f"Answer to {inbound.message_id}")


@pytest.fixture
async def fake() -> AsyncIterator[FakeTelegram]:
    async with FakeTelegram() as fake:
        yield fake


@pytest.fixture
async def turns() -> Turns:
    return Turns()


@pytest.fixture
async def webhook(fake: FakeTelegram, turns: Turns) -> AsyncIterator[httpx.AsyncClient]:
    adapter = TelegramAdapter(TelegramPlatform(enabled=True, mode="webhook", bot_token=TOKEN, webhook_secret=SECRET,
                                               api_base_url=fake.url))
    async with running(adapter.start(turns.wrap(answer)), adapter.stop, lambda: fake.log.wait_for("getMe")):
        transport = httpx.ASGITransport(app=create_web_app(telegram=adapter))
        async with httpx.AsyncClient(transport=transport, base_url="http://rapport.test") as client:
            yield client


def with_message(change: Callable[[dict[str, Any]], None], message_id: int) -> bytes:
    update = private_message("where is my order?", message_id=message_id)
    change(update["message"])
    return json.dumps(update).encode()


def nested(depth: int) -> bytes:
    return b'{"update_id": 700001, "message": ' + b"[" * depth + b"]" * depth + b"}"


POISON: dict[str, bytes] = {
    "date past year 9999": with_message(lambda m: m.update(date=10**20), 201),
    "negative date": with_message(lambda m: m.update(date=-10**20), 202),
    "chat is a string": with_message(lambda m: m.update(chat="Northwind"), 203),
    "sender is a number": with_message(lambda m: m.update({"from": 555001}), 204),
    "message is a list": b'{"update_id": 700002, "message": []}',
    "entities not a list": with_message(lambda m: m.update(entities={"type": "mention"}), 205),
    "photo sizes are strings": with_message(lambda m: m.update(photo=["big", "small"]), 206),
    "reply_to_message is a number": with_message(lambda m: m.update(reply_to_message=5), 207),
    "message missing its date": b'{"update_id": 700003, "message": {"message_id": 1, "chat": {"id": 1, "type": "private"}}}',
    "callback without chat_instance": b'{"update_id": 700004, "callback_query": {"id": "1", "from": {"id": 1}}}',
    "deeply nested": nested(100_000),
}


async def test_poison_updates_are_acknowledged_and_dropped_and_the_next_message_is_answered(
    webhook: httpx.AsyncClient, fake: FakeTelegram, turns: Turns, caplog: pytest.LogCaptureFixture
) -> None:
    for name, body in POISON.items():
        response = await webhook.post("/telegram/webhook", content=body, headers=HEADERS)
        assert response.status_code == 200, (name, response.status_code, response.text)
    assert turns.done == [] and fake.log.named("sendMessage") == []
    assert "dropped a Telegram update nothing can read (update_id=700002)" in caplog.text
    assert "Northwind" not in caplog.text  # ids only in the log, never the content

    good = json.dumps(private_message("how long does shipping take?", message_id=300)).encode()
    assert (await webhook.post("/telegram/webhook", content=good, headers=HEADERS)).status_code == 200
    [sent] = fake.log.named("sendMessage")
    assert sent.params["text"].startswith(f"Answer to {CUSTOMER['id']}:300")


async def test_lone_surrogates_and_odd_ids_are_read_not_choked_on(
    webhook: httpx.AsyncClient, fake: FakeTelegram, turns: Turns
) -> None:
    surrogates = json.dumps(private_message("hello \ud800 where is my order?", message_id=310,
                                            user={**CUSTOMER, "first_name": "An\udc00a"})).encode()
    assert b"\\ud800" in surrogates  # as Telegram would escape it
    huge = private_message("hi", message_id=10**25, user={**CUSTOMER, "id": 10**30})
    huge["message"]["chat"]["id"] = 10**30
    for body in (surrogates, json.dumps(huge).encode()):
        assert (await webhook.post("/telegram/webhook", content=body, headers=HEADERS)).status_code == 200
    first, second = (inbound for inbound, _ in turns.done)
    assert first.text == "hello  where is my order?" and first.display_name == "Ana Silva"
    assert second.conversation.channel == str(10**30)
    assert [c.params["chat_id"] for c in fake.log.named("sendMessage")] == [str(CUSTOMER["id"]), str(10**30)]


async def test_a_body_that_is_not_a_telegram_update_is_a_deliberate_400(
    webhook: httpx.AsyncClient, turns: Turns
) -> None:
    for body in (b'{"update_id": 1, "message": ', b'{"update_id": 1, "x": "\xff"}', b"[1]", b'{"update_id": true}',
                 b'{"update_id": "7"}', b"{}"):
        response = await webhook.post("/telegram/webhook", content=body, headers=HEADERS)
        assert response.status_code == 400, (body, response.status_code)
    assert turns.done == []


async def test_a_handler_that_could_not_take_the_message_gets_a_5xx_so_telegram_redelivers(fake: FakeTelegram) -> None:
    taken: list[str] = []

    async def store_fails_once(inbound: Inbound) -> None:
        if not taken:
            taken.append("failed")
            raise ConnectionError("database unavailable")
        taken.append(inbound.message_id)

    adapter = TelegramAdapter(TelegramPlatform(enabled=True, mode="webhook", bot_token=TOKEN, webhook_secret=SECRET,
                                               api_base_url=fake.url))
    async with running(adapter.start(store_fails_once), adapter.stop, lambda: fake.log.wait_for("getMe")):
        transport = httpx.ASGITransport(app=create_web_app(telegram=adapter))
        async with httpx.AsyncClient(transport=transport, base_url="http://rapport.test") as client:
            body = json.dumps(private_message("where is my order?", message_id=320)).encode()
            assert (await client.post("/telegram/webhook", content=body, headers=HEADERS)).status_code == 503
            assert (await client.post("/telegram/webhook", content=body, headers=HEADERS)).status_code == 200
    assert taken == ["failed", f"{CUSTOMER['id']}:320"]


async def test_polling_moves_past_a_poison_update(fake: FakeTelegram, turns: Turns) -> None:
    adapter = TelegramAdapter(TelegramPlatform(enabled=True, mode="polling", bot_token=TOKEN, api_base_url=fake.url))
    async with running(adapter.start(turns.wrap(answer)), adapter.stop, lambda: fake.log.wait_for("getMe")):
        for body in (POISON["date past year 9999"], POISON["message is a list"], POISON["chat is a string"]):
            await fake.push(json.loads(body))
        await fake.push(private_message("how long does shipping take?", message_id=330))
        [sent] = await fake.log.wait_for("sendMessage")
        assert sent.params["text"].startswith(f"Answer to {CUSTOMER['id']}:330")
        await fake.push(private_message("and to Canada?", message_id=331))
        await fake.log.wait_for("sendMessage", count=2)
    assert [inbound.message_id for inbound, _ in turns.done] == [f"{CUSTOMER['id']}:330", f"{CUSTOMER['id']}:331"]
