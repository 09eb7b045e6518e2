"""Telegram delivery: the real python-telegram-bot against the fake Bot API, asserting on what reached it.

Private replies never land in a group, files arrive as real uploads, every refusal becomes DeliveryFailed
(permanent or not, with Telegram's retry_after), long replies arrive whole and in order within Telegram's
limits, and messages the bot cannot read are explained once, not on every sticker.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

import pytest
from telegram.error import BadRequest

from adapters.rendering import render
from adapters.telegram import PRIVATE_CHAT_NOTICE, UNREADABLE_NOTICE, TelegramAdapter
from bot.config import TelegramPlatform
from bot.errors import DeliveryFailed
from bot.types import ConversationKey, Inbound, OutboundFile, Reply, Source, Suggestion
from tests.adapters.support import Turns, running, sample_reply
from tests.fakes.telegram import (
    BOT_ID,
    BOT_USER,
    BOT_USERNAME,
    CUSTOMER,
    GROUP,
    TOKEN,
    FakeTelegram,
    group_message,
    private_message,
)

PRIVATE_CHAT = ConversationKey("telegram", str(BOT_ID), str(CUSTOMER["id"]), "")
GROUP_CHAT = ConversationKey("telegram", str(BOT_ID), str(GROUP["id"]), "")


@pytest.fixture
async def fake() -> AsyncIterator[FakeTelegram]:
    async with FakeTelegram() as fake:
        yield fake


@pytest.fixture
async def adapter(fake: FakeTelegram) -> AsyncIterator[TelegramAdapter]:
    """A polling adapter whose handler records turns and answers nothing (replies are sent by the test)."""
    adapter = TelegramAdapter(TelegramPlatform(enabled=True, mode="polling", bot_token=TOKEN, api_base_url=fake.url))
    async with running(adapter.start(_store_only), adapter.stop, lambda: fake.log.wait_for("getMe")):
        yield adapter


async def _store_only(inbound: Inbound) -> None:
    return None


def export_reply(conversation: ConversationKey, **changes: object) -> Reply:
    fields: dict[str, object] = {
        "conversation": conversation, "in_reply_to": f"{conversation.channel}:77", "ask_feedback": False,
        "text": "Here is everything we hold about you.", "private": True, "recipient": str(CUSTOMER["id"]),
        "files": (OutboundFile("rapport-export.json", json.dumps({"name": "Ana", "orders": [1042]}, indent=2)),),
        "delivery_key": "outbox-41",
    }
    fields.update(changes)
    return Reply(**fields)  # type: ignore[arg-type]


# --- private replies and files -------------------------------------------------------------------


async def test_private_reply_in_a_group_goes_to_the_customers_private_chat(
    fake: FakeTelegram, adapter: TelegramAdapter
) -> None:
    await adapter.send(export_reply(GROUP_CHAT, files=()))
    [sent] = fake.log.named("sendMessage")
    assert sent.params["chat_id"] == str(CUSTOMER["id"])
    assert "reply_parameters" not in sent.params  # nothing to quote in another chat
    assert all(c.params.get("chat_id") != str(GROUP["id"]) for c in fake.log.calls)


async def test_private_reply_when_the_customer_never_started_the_bot_asks_them_to_in_the_group(
    fake: FakeTelegram, adapter: TelegramAdapter
) -> None:
    fake.not_started.add(CUSTOMER["id"])
    with pytest.raises(DeliveryFailed) as failed:
        await adapter.send(export_reply(GROUP_CHAT))
    assert failed.value.permanent
    [note] = fake.log.named("sendMessage")
    assert note.params["chat_id"] == str(GROUP["id"])
    assert note.params["text"] == PRIVATE_CHAT_NOTICE.format(link=f" (https://t.me/{BOT_USERNAME})")
    assert note.params["reply_parameters"]["message_id"] == 77  # the customer sees it is for them
    assert fake.log.named("sendDocument") == []  # the export itself went nowhere


async def test_private_reply_in_a_private_chat_is_sent_there(fake: FakeTelegram, adapter: TelegramAdapter) -> None:
    await adapter.send(export_reply(PRIVATE_CHAT, files=()))
    [sent] = fake.log.named("sendMessage")
    assert sent.params["chat_id"] == str(CUSTOMER["id"])


async def test_a_file_is_uploaded_as_a_document_with_its_exact_bytes_and_name(
    fake: FakeTelegram, adapter: TelegramAdapter
) -> None:
    reply = export_reply(GROUP_CHAT)
    await adapter.send(reply)
    [text] = fake.log.named("sendMessage")
    [document] = fake.log.named("sendDocument")
    assert text.params["chat_id"] == document.params["chat_id"] == str(CUSTOMER["id"])  # privately too
    assert document.params["document"]["filename"] == "rapport-export.json"
    assert document.params["document"]["content"] == reply.files[0].content.encode("utf-8")


# --- refusals ------------------------------------------------------------------------------------


async def test_a_telegram_outage_is_a_transient_failure(fake: FakeTelegram, adapter: TelegramAdapter) -> None:
    fake.fault("sendMessage", 503, "Service Unavailable")
    with pytest.raises(DeliveryFailed) as failed:
        await adapter.send(sample_reply(PRIVATE_CHAT, f"{CUSTOMER['id']}:50"))
    assert not failed.value.permanent and failed.value.retry_after is None
    assert fake.log.named("sendMessage") == []


async def test_a_bot_blocked_by_the_customer_is_a_permanent_failure(fake: FakeTelegram, adapter: TelegramAdapter) -> None:
    fake.fault("sendMessage", 403, "Forbidden: bot was blocked by the user")
    with pytest.raises(DeliveryFailed) as failed:
        await adapter.send(sample_reply(PRIVATE_CHAT, f"{CUSTOMER['id']}:51"))
    assert failed.value.permanent


async def test_long_flood_control_goes_back_to_the_outbox_with_retry_after(
    fake: FakeTelegram, adapter: TelegramAdapter
) -> None:
    fake.flood(times=1, retry_after=30)
    with pytest.raises(DeliveryFailed) as failed:
        await adapter.send(sample_reply(PRIVATE_CHAT, f"{CUSTOMER['id']}:52"))
    assert failed.value.retry_after == 30 and not failed.value.permanent


async def test_a_retried_reply_sends_only_the_parts_telegram_had_not_accepted(
    fake: FakeTelegram, adapter: TelegramAdapter
) -> None:
    text = "\n\n".join(f"Part {i}. " + "Keep the receipt and the original packaging. " * 60 for i in range(3))
    reply = sample_reply(PRIVATE_CHAT, f"{CUSTOMER['id']}:53", text=text, delivery_key="outbox-53")
    fake.fault("sendMessage", 502, "Bad Gateway")  # the first part fails, nothing was posted
    with pytest.raises(DeliveryFailed):
        await adapter.send(reply)
    assert fake.log.named("sendMessage") == []
    fake.fault("sendMessage", 500, "Internal Server Error", after=1)  # the first part gets through, then a 500
    with pytest.raises(DeliveryFailed):
        await adapter.send(reply)
    assert [c.params["text"][:7] for c in fake.log.named("sendMessage")] == ["Part 0."]
    await adapter.send(reply)
    first_pass = [c.params["text"][:7] for c in fake.log.named("sendMessage")]
    assert first_pass == ["Part 0.", "Part 1.", "Part 2."]
    await adapter.send(reply)  # the outbox retries after a lost "delivered" mark: nothing is repeated
    assert len(fake.log.named("sendMessage")) == 3


# --- limits --------------------------------------------------------------------------------------


async def test_a_20000_character_reply_with_many_sources_and_suggestions_arrives_whole_and_in_order(
    fake: FakeTelegram, adapter: TelegramAdapter
) -> None:
    sentences = [f"Sentence {i} explains step {i} of the return in words that matter." for i in range(320)]
    text = " ".join(sentences)
    assert len(text) > 20_000
    sources = tuple(Source(f"Page {i}", f"Section {i}", f"knowledge/pages/p{i}.md", 0.5) for i in range(15))
    suggestions = tuple(Suggestion(f"Question {i} about a much longer topic than fits", f"Tell me about topic {i} " * 4)
                        for i in range(12))
    reply = sample_reply(PRIVATE_CHAT, f"{CUSTOMER['id']}:60", text=text, sources=sources, suggestions=suggestions)
    await adapter.send(reply)
    assert not [c for c in fake.log.calls if c.method.startswith("refused:")]
    sent = fake.log.named("sendMessage")
    assert len(sent) >= 5
    received = " ".join(c.params["text"] for c in sent)
    assert received.split() == render(reply).text.split()  # every word, in order, nothing cut
    keyboard = sent[-1].params["reply_markup"]["inline_keyboard"]
    assert len(keyboard) == 12 + 1  # every suggestion, then 👍/👎


# --- messages the bot cannot read ----------------------------------------------------------------


STICKER = {"file_id": "CAACAgIAAxkBAAE", "file_unique_id": "AgAD", "type": "regular", "width": 512, "height": 512,
           "is_animated": False, "is_video": False, "emoji": "👍"}


def unreadable(update: dict[str, object], **fields: object) -> dict[str, object]:
    message = update["message"]
    assert isinstance(message, dict)
    message.pop("text")
    message.pop("entities", None)
    message.update(fields)
    return update


async def test_a_burst_of_stickers_gets_one_kind_explanation(fake: FakeTelegram) -> None:
    turns = Turns()
    adapter = TelegramAdapter(TelegramPlatform(enabled=True, mode="polling", bot_token=TOKEN, api_base_url=fake.url))
    async with running(adapter.start(turns.wrap(_store_only)), adapter.stop, lambda: fake.log.wait_for("getMe")):
        for i in range(4):
            await fake.push(unreadable(private_message("", message_id=100 + i), sticker=STICKER))
        await fake.push(unreadable(private_message("", message_id=110),
                                   voice={"file_id": "v", "file_unique_id": "v", "duration": 3}))
        await fake.push(private_message("where is my order?", message_id=111))
        await turns.wait_for(f"{CUSTOMER['id']}:111")
        await fake.log.wait_for("sendMessage")
        await asyncio.sleep(0.3)  # updates run concurrently: give any second note the time to show up
        [note] = fake.log.named("sendMessage")
    assert note.params["chat_id"] == str(CUSTOMER["id"]) and note.params["text"] == UNREADABLE_NOTICE
    assert "human" in note.params["text"]
    assert [i.message_id for i, _ in turns.done] == [f"{CUSTOMER['id']}:111"]  # nothing unreadable reached the engine


async def test_in_a_group_only_an_unreadable_reply_to_the_bot_is_explained(fake: FakeTelegram) -> None:
    adapter = TelegramAdapter(TelegramPlatform(enabled=True, mode="polling", bot_token=TOKEN, api_base_url=fake.url))
    bot_message = {"message_id": 70, "from": BOT_USER, "chat": GROUP, "date": 1700000000, "text": "Standard shipping…"}
    async with running(adapter.start(_store_only), adapter.stop, lambda: fake.log.wait_for("getMe")):
        await fake.push(unreadable(group_message("", message_id=90), sticker=STICKER))  # to the room, not the bot
        await fake.push(unreadable(group_message("", message_id=91), sticker=STICKER, reply_to_message=bot_message))
        [note] = await fake.log.wait_for("sendMessage")
    assert note.params["chat_id"] == str(GROUP["id"])
    assert note.params["reply_parameters"]["message_id"] == 91


async def test_the_fake_refuses_what_telegram_refuses_so_the_limits_above_mean_something(
    fake: FakeTelegram, adapter: TelegramAdapter
) -> None:
    for text in ("x" * 4097, "😀" * 2049):  # 4,097 characters; 2,049 emoji are 4,098 UTF-16 units
        with pytest.raises(BadRequest, match="(?i)message is too long"):
            await adapter.bot.send_message(CUSTOMER["id"], text)
    assert fake.log.named("sendMessage") == []


async def test_a_chat_that_does_not_exist_is_a_permanent_failure(fake: FakeTelegram, adapter: TelegramAdapter) -> None:
    fake.fault("sendMessage", 400, "Bad Request: chat not found")
    with pytest.raises(DeliveryFailed) as failed:
        await adapter.send(sample_reply(PRIVATE_CHAT, f"{CUSTOMER['id']}:54"))
    assert failed.value.permanent
