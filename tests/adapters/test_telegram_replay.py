"""A replay of the update kinds Telegram really sends, through the webhook (``create_web_app`` over httpx's
ASGI transport) into the real python-telegram-bot and back out to the fake Bot API.

Each fixture under ``payloads/telegram/`` is one update shaped after the Bot API docs and says what should
happen: ``answer`` (one reply in that chat), ``notice`` (the short "I can't read that" note) or ``ignore``
(nothing sent). Every authentic request must get a 200: never a 5xx.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from adapters.telegram import UNREADABLE_NOTICE, TelegramAdapter
from adapters.web import create_web_app
from bot.config import TelegramPlatform
from bot.types import Inbound, Reply
from tests.adapters.support import Turns, running, sample_reply
from tests.fakes.telegram import TOKEN, FakeTelegram

SECRET = "s3cr3t-Webhook_token"
HEADERS = {"X-Telegram-Bot-Api-Secret-Token": SECRET, "Content-Type": "application/json"}
FIXTURES = sorted((Path(__file__).parent / "payloads" / "telegram").glob("*.json"))


def load(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text())


def chat_of(update: dict[str, Any]) -> int:
    """The chat a reply to this update belongs in."""
    _, payload = next((k, v) for k, v in update.items() if k != "update_id")
    message = payload.get("message") if "chat_instance" in payload else payload
    return message["chat"]["id"]


async def answer(inbound: Inbound) -> Reply:
    return sample_reply(inbound.conversation, inbound.message_id, text=f"Answer to {inbound.message_id}")


@pytest.fixture
async def webhook() -> AsyncIterator[tuple[httpx.AsyncClient, FakeTelegram, Turns]]:
    turns = Turns()
    async with FakeTelegram() as fake:
        adapter = TelegramAdapter(TelegramPlatform(enabled=True, mode="webhook", bot_token=TOKEN,
                                                   webhook_secret=SECRET, api_base_url=fake.url))
        async with running(adapter.start(turns.wrap(answer)), adapter.stop, lambda: fake.log.wait_for("getMe")):
            transport = httpx.ASGITransport(app=create_web_app(telegram=adapter))
            async with httpx.AsyncClient(transport=transport, base_url="http://rapport.test") as client:
                yield client, fake, turns


def test_the_replay_covers_the_update_kinds_telegram_sends() -> None:
    kinds = {next(k for k in load(p)["update"] if k != "update_id") for p in FIXTURES}
    assert len(FIXTURES) >= 30
    assert kinds >= {"message", "edited_message", "channel_post", "callback_query", "my_chat_member", "chat_member",
                     "chat_join_request", "inline_query", "poll", "poll_answer", "message_reaction",
                     "pre_checkout_query", "shipping_query", "business_message"}


async def test_every_update_gets_a_200_and_exactly_what_it_should(
    webhook: tuple[httpx.AsyncClient, FakeTelegram, Turns]
) -> None:
    client, fake, turns = webhook
    for path in FIXTURES:
        fixture = load(path)
        before = len(fake.log.named("sendMessage"))
        response = await client.post("/telegram/webhook", content=json.dumps(fixture["update"]).encode(),
                                     headers=HEADERS)
        assert response.status_code == 200, (path.name, response.status_code, response.text)
        sent = fake.log.named("sendMessage")[before:]
        match fixture["expect"]:
            case "answer":
                [reply] = sent or [None]
                assert reply is not None, f"{path.name}: not answered"
                assert len(sent) == 1, f"{path.name}: answered {len(sent)} times"
                assert reply.params["text"].startswith("Answer to"), path.name
                assert reply.params["chat_id"] == str(chat_of(fixture["update"])), path.name
            case "notice":
                assert [c.params["text"] for c in sent] == [UNREADABLE_NOTICE], path.name
                assert sent[0].params["chat_id"] == str(chat_of(fixture["update"])), path.name
            case "ignore":
                assert sent == [], f"{path.name}: should not be answered, got {[c.params['text'] for c in sent]}"
    answered = [p for p in FIXTURES if load(p)["expect"] == "answer"]
    assert len(turns.done) == len(answered)
    # Clicks are acknowledged (the client's spinner stops): the suggestion and the 👍.
    assert len(fake.log.named("answerCallbackQuery")) == 2


async def test_a_redelivered_update_is_answered_again_only_if_the_handler_says_so(
    webhook: tuple[httpx.AsyncClient, FakeTelegram, Turns]
) -> None:
    """The adapter passes every redelivery on (the engine's inbox decides); the message id stays the same."""
    client, fake, turns = webhook
    body = json.dumps(load(FIXTURES[0].with_name("message_private_text.json"))["update"]).encode()
    for _ in range(2):
        assert (await client.post("/telegram/webhook", content=body, headers=HEADERS)).status_code == 200
    first, again = (inbound.message_id for inbound, _ in turns.done)
    assert first == again
