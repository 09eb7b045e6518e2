"""Telegram end to end: the real python-telegram-bot against a fake Bot API server on loopback.

Long polling through TelegramAdapter; the webhook through `rapport serve`. Assertions are on what the
fake Bot API received.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from adapters.telegram import TelegramAdapter
from bot.config import Config, TelegramPlatform
from bot.runtime import Runtime
from bot.types import ConversationKey, FeedbackKind
from tests.adapters.support import FeedbackLog, Turns, running, sample_reply, web_process, with_platforms
from tests.fakes.telegram import (
    BOT_ID,
    BOT_USERNAME,
    GROUP,
    TOKEN,
    FakeTelegram,
    callback_query,
    group_message,
    private_message,
)

SECRET = "s3cr3t-Webhook_token"


@pytest.fixture
async def fake_telegram() -> AsyncIterator[FakeTelegram]:
    async with FakeTelegram() as fake:
        yield fake


def polling(fake: FakeTelegram) -> TelegramPlatform:
    return TelegramPlatform(enabled=True, mode="polling", bot_token=TOKEN, api_base_url=fake.url)


def webhook(fake: FakeTelegram) -> TelegramPlatform:
    return TelegramPlatform(enabled=True, mode="webhook", bot_token=TOKEN, webhook_secret=SECRET, api_base_url=fake.url)


async def test_polling_answers_a_private_message_once_with_an_inline_keyboard(
    fake_telegram: FakeTelegram, runtime: Runtime
) -> None:
    turns, feedback, adapter = Turns(), FeedbackLog(), TelegramAdapter(polling(fake_telegram))
    async with running(adapter.start(turns.wrap(runtime.engine.handle), feedback), adapter.stop,
                       lambda: fake_telegram.log.wait_for("getMe")):
        await fake_telegram.push(private_message("how long does shipping take?", message_id=41))
        [sent] = await fake_telegram.log.wait_for("sendMessage")
        assert sent.params["chat_id"] == "555001"
        assert "3–5 business days" in sent.params["text"]
        assert "parse_mode" not in sent.params  # plain text: nothing to escape
        keyboard = sent.params["reply_markup"]["inline_keyboard"]
        assert [b["text"] for b in keyboard[-1]] == ["👍 Helpful", "👎 Not helpful"]
        assert keyboard[-1][0]["callback_data"] == "f+|555001:41"

        # The same message again (Telegram redelivers after a restart): one answer in total.
        await fake_telegram.push(private_message("how long does shipping take?", message_id=41))
        first, again = await turns.wait_for("555001:41", count=2)
        assert first is not None and again is None
        assert len(fake_telegram.log.named("sendMessage")) == 1

        bot_message = {"message_id": 9000, "from": {"id": BOT_ID, "is_bot": True, "first_name": "Rapport"},
                       "chat": {"id": 555001, "type": "private"}, "date": 1700000000, "text": sent.params["text"],
                       "reply_markup": sent.params["reply_markup"]}
        await fake_telegram.push(callback_query(keyboard[-1][0]["callback_data"], bot_message))
        [rating] = await feedback.wait()
        assert rating.kind is FeedbackKind.HELPFUL and rating.in_reply_to == "555001:41"
        await fake_telegram.log.wait_for("answerCallbackQuery")

        # A related question offered as a button: clicking it asks it, answered in the same chat.
        assert keyboard[0][0] == {"text": "When will my order ship?", "callback_data": "s|When will my order ship?"}
        await fake_telegram.push(callback_query(keyboard[0][0]["callback_data"], bot_message))
        _, answer = await fake_telegram.log.wait_for("sendMessage", count=2)
        assert answer.params["chat_id"] == "555001" and "order" in answer.params["text"].lower()  # the clicked question, answered for this customer (who has no orders)


async def test_group_messages_are_answered_only_when_the_bot_is_mentioned(
    fake_telegram: FakeTelegram, runtime: Runtime
) -> None:
    turns, adapter = Turns(), TelegramAdapter(polling(fake_telegram))
    async with running(adapter.start(turns.wrap(runtime.engine.handle)), adapter.stop,
                       lambda: fake_telegram.log.wait_for("getMe")):
        await fake_telegram.push(group_message("what is your return policy?", message_id=80))
        await fake_telegram.push(group_message(f"@{BOT_USERNAME} what is your return policy?", message_id=81))
        [sent] = await fake_telegram.log.wait_for("sendMessage")
        assert sent.params["chat_id"] == str(GROUP["id"])
        assert sent.params["reply_parameters"]["message_id"] == 81  # answers the mention, quoted in the group
        assert "30 days" in sent.params["text"]
        assert [inbound.message_id for inbound, _ in turns.done] == [f"{GROUP['id']}:81"]


async def test_long_reply_is_split_and_flood_control_is_waited_out(fake_telegram: FakeTelegram) -> None:
    adapter = TelegramAdapter(polling(fake_telegram))
    paragraphs = "\n\n".join(f"Step {i}. " + "Keep the receipt and the original packaging. " * 20 for i in range(10))
    reply = sample_reply(ConversationKey("telegram", str(BOT_ID), "555001", ""), "555001:50", text=paragraphs)
    async with running(adapter.start(_never_called), adapter.stop, lambda: fake_telegram.log.wait_for("getMe")):
        fake_telegram.flood(times=1)
        await adapter.send(reply)
    sent = fake_telegram.log.named("sendMessage")
    assert len(fake_telegram.log.named("flooded")) == 1  # the 429 was retried, not lost
    assert len(sent) > 1 and all(len(s.params["text"]) <= 4096 for s in sent)
    assert all(s.params["text"].startswith("Step") for s in sent)
    assert ["reply_markup" in s.params for s in sent] == [False] * (len(sent) - 1) + [True]


async def _never_called(inbound: object) -> None:
    raise AssertionError("no message expected")


# --- `rapport serve`, webhook --------------------------------------------------------------------------


@pytest.fixture
async def telegram_web(
    fake_telegram: FakeTelegram, repo_config: Config, data_dir: Path, engine_turns: Turns
) -> AsyncIterator[httpx.AsyncClient]:
    async with web_process(with_platforms(repo_config, telegram=webhook(fake_telegram)), data_dir) as client:
        await fake_telegram.log.wait_for("getMe")
        yield client


async def test_webhook_with_a_wrong_or_missing_secret_is_rejected_and_nothing_is_sent(
    telegram_web: httpx.AsyncClient, fake_telegram: FakeTelegram, engine_turns: Turns
) -> None:
    update = json.dumps(private_message("how long does shipping take?", message_id=60)).encode()
    for headers in ({"X-Telegram-Bot-Api-Secret-Token": "guess"}, {"X-Telegram-Bot-Api-Secret-Token": SECRET[:-1]}, {}):
        response = await telegram_web.post("/telegram/webhook", content=update, headers=headers)
        assert response.status_code == 403
    assert engine_turns.done == []
    assert fake_telegram.log.named("sendMessage") == []


async def test_webhook_with_the_right_secret_sends_exactly_one_message_to_that_chat(
    telegram_web: httpx.AsyncClient, fake_telegram: FakeTelegram, engine_turns: Turns
) -> None:
    update = json.dumps(private_message("how long does shipping take?", message_id=61)).encode()
    headers = {"X-Telegram-Bot-Api-Secret-Token": SECRET, "Content-Type": "application/json"}
    response = await telegram_web.post("/telegram/webhook", content=update, headers=headers)
    assert response.status_code == 200
    # Telegram redelivers the same update when it misses our 200: still one message.
    assert (await telegram_web.post("/telegram/webhook", content=update, headers=headers)).status_code == 200
    # The turn runs after the 200 (the update was stored first): wait for it and the redelivery.
    replies = await engine_turns.wait_for("555001:61", count=2)
    assert sorted(r is not None for r in replies) == [False, True]
    [sent] = await fake_telegram.log.wait_for("sendMessage")
    assert sent.params["chat_id"] == "555001"
    assert "3–5 business days" in sent.params["text"]


async def test_webhook_rejects_what_is_not_an_update_and_drops_updates_nothing_can_read(
    telegram_web: httpx.AsyncClient, fake_telegram: FakeTelegram, engine_turns: Turns
) -> None:
    headers = {"X-Telegram-Bot-Api-Secret-Token": SECRET, "Content-Type": "application/json"}
    not_updates = {
        "invalid json": b'{"update_id": 1, "message": ',
        "not utf-8 json": b'{"update_id": 1, "x": "\xff"}',
        "not an object": b'[{"update_id": 1}]',
        "no update_id": b'{"message": {"message_id": 1, "date": 1, "chat": {"id": 1, "type": "private"}, "text": "hi"}}',
        "update_id not a number": b'{"update_id": "1"}',
    }
    for name, body in not_updates.items():
        response = await telegram_web.post("/telegram/webhook", content=body, headers=headers)
        assert 400 <= response.status_code < 500, (name, response.status_code, response.text)
    # Authentic but unreadable: acknowledged, or Telegram would redeliver it forever.
    unreadable = {
        "message missing its date": b'{"update_id": 2, "message": {"message_id": 1, "chat": {"id": 1, "type": "private"}}}',
        "message is a string": b'{"update_id": 3, "message": "hi"}',
        "callback without chat_instance": b'{"update_id": 4, "callback_query": {"id": "1", "from": {"id": 1}}}',
    }
    for name, body in unreadable.items():
        response = await telegram_web.post("/telegram/webhook", content=body, headers=headers)
        assert response.status_code == 200, (name, response.status_code, response.text)
    huge = json.dumps(private_message("x" * 1_100_000)).encode()
    assert (await telegram_web.post("/telegram/webhook", content=huge, headers=headers)).status_code == 413
    assert (await telegram_web.get("/healthz")).status_code == 200
    assert engine_turns.done == [] and fake_telegram.log.named("sendMessage") == []
