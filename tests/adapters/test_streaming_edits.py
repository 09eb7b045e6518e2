"""Streaming edits on Slack, Telegram and Discord: the real SDKs against the platform fakes, the real engine
with the LLM composer against the fake OpenAI-compatible server, all on loopback.

The first checked sentence posts a placeholder; later ones edit it (throttled); the outbox's final send
edits it into the checked reply, buttons included. The customer sees one message, and its last text is the
reply (the model's, or the offline one when the stream broke). A process that died between placeholder and
final send still delivers exactly one reply: the outbox edits the recorded placeholder, retries a failed
edit, and posts instead only when the placeholder is gone.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlmodel import select

from adapters.discord import DiscordAdapter
from adapters.slack import SlackAdapter
from adapters.telegram import TelegramAdapter
from bot.cli.platforms import wire_delivery
from bot.config import Config, DiscordPlatform, SlackPlatform, TelegramPlatform
from bot.delivery import ReplyPoster
from bot.llm.stream import EditingStream, EditThrottle
from bot.runtime import Runtime
from bot.store import migrations
from bot.store.database import Database
from bot.store.outbox import Outbox, reply_key, with_key
from bot.store.tables import OutboxEntry, StreamPlaceholder
from bot.types import ConversationKey, Inbound
from tests.adapters.support import running, sample_reply
from tests.fakes import discord as fake_dc
from tests.fakes import telegram as fake_tg
from tests.fakes.discord import FakeDiscord, message_payload
from tests.fakes.openai import Answer, FakeOpenAI
from tests.fakes.slack import FakeSlack, direct_message, event_envelope
from tests.fakes.telegram import FakeTelegram, private_message
from tests.llm.conftest import short_config
from tests.llm.test_engine_llm import rewrite_the_draft

QUESTION = "how long does shipping take?"
CHAT = str(fake_tg.CUSTOMER["id"])


@pytest.fixture
async def fake_openai() -> AsyncIterator[FakeOpenAI]:
    async with FakeOpenAI() as fake:
        fake.default = rewrite_the_draft  # "Sure thing! " and the offline draft, streamed in 12-character pieces
        yield fake


@pytest.fixture
async def llm_runtime(repo_config: Config, data_dir: Path, fake_openai: FakeOpenAI) -> AsyncIterator[Runtime]:
    config = repo_config.model_copy(update={"llm": short_config(fake_openai.base_url)})
    async with Runtime.open(config, data_dir) as runtime:
        yield runtime


async def until(predicate: object, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise AssertionError("not within the timeout")
        await asyncio.sleep(0.02)


async def delivered_as(runtime: Runtime) -> list[str]:
    async with runtime.database.session() as session:
        return [e.sent_as for e in (await session.exec(select(OutboxEntry))).all() if e.status == "delivered"]


async def placeholders(runtime: Runtime) -> list[str]:
    async with runtime.database.session() as session:
        return [p.message for p in (await session.exec(select(StreamPlaceholder))).all()]


async def test_each_platform_shows_one_message_edited_into_the_final_reply(
        llm_runtime: Runtime, tmp_path: Path) -> None:
    async with FakeSlack() as slack_fake, FakeTelegram() as telegram_fake, FakeDiscord() as discord_fake:
        slack = SlackAdapter(SlackPlatform(enabled=True, mode="socket", bot_token="xoxb-test", app_token="xapp-test",
                                           api_base_url=slack_fake.api_url))
        telegram = TelegramAdapter(TelegramPlatform(enabled=True, mode="polling", bot_token=fake_tg.TOKEN,
                                                    api_base_url=telegram_fake.url))
        discord = DiscordAdapter(DiscordPlatform(enabled=True, bot_token=fake_dc.BOT_TOKEN,
                                                 api_base_url=discord_fake.api_url))
        handler = wire_delivery(llm_runtime, [slack, telegram, discord])
        async with running(slack.start(handler), slack.stop, lambda: slack_fake.log.wait_for("apps.connections.open")), \
                running(telegram.start(handler), telegram.stop, lambda: telegram_fake.log.wait_for("getMe")), \
                running(discord.start(handler), discord.stop, discord_fake.identified.wait):
            started = time.monotonic()
            await slack_fake.push("events_api", event_envelope(direct_message(QUESTION, ts="1700003000.000100")))
            await telegram_fake.push(private_message(QUESTION, message_id=61))
            await discord_fake.dispatch("MESSAGE_CREATE", message_payload(QUESTION, channel_id=fake_dc.DM_CHANNEL_ID,
                                                                          guild=False))
            await until(lambda: len(slack_fake.log.named("chat.update")) >= 1
                        and any(c.params.get("reply_markup") for c in telegram_fake.log.named("editMessageText"))
                        and any(c.params.get("components") for c in discord_fake.log.named("edit_message")))
            await llm_runtime.delivery.idle()
            elapsed = time.monotonic() - started
        assert len(await delivered_as(llm_runtime)) == 3 and await placeholders(llm_runtime) == []

    # Slack: one post (the placeholder), edited into the reply with its buttons.
    [placeholder] = slack_fake.log.named("chat.postMessage")
    assert placeholder.params["text"] == "Sure thing!" and placeholder.params["thread_ts"] == "1700003000.000100"
    *streamed, final = slack_fake.log.named("chat.update")
    assert final.params["ts"] == slack_fake.posted_ts[0] and final.params["text"].startswith("Sure thing! ")
    assert "3–5 business days" in final.params["text"]
    assert any(b.get("block_id") == "rapport_feedback" for b in final.params["blocks"])
    assert all(final.params["text"].startswith(s.params["text"]) for s in streamed)  # nothing shown it takes back
    assert len(streamed) <= 1 + elapsed  # about one edit a second, at most

    # Telegram: one sendMessage, edited (with the keyboard) into the reply.
    [sent] = telegram_fake.log.named("sendMessage")
    assert sent.params["text"] == "Sure thing!"
    *streamed, final = telegram_fake.log.named("editMessageText")
    assert final.params["text"].startswith("Sure thing! ") and "3–5 business days" in final.params["text"]
    assert [b["text"] for b in final.params["reply_markup"]["inline_keyboard"][-1]] == ["👍 Helpful", "👎 Not helpful"]
    assert list(telegram_fake.messages.values()) == [final.params["text"]]  # what the customer's chat holds
    assert len(streamed) <= 1 + elapsed

    # Discord: one message created, edited into the reply with its buttons.
    [created] = discord_fake.log.named("create_message")
    assert created.params["content"] == "Sure thing!"
    *streamed, final = discord_fake.log.named("edit_message")
    assert final.params["id"] == created.params["id"] and final.params["content"].startswith("Sure thing! ")
    assert final.params["components"] and discord_fake.messages[created.params["id"]]["content"] == final.params["content"]
    assert len(streamed) <= 1 + elapsed

    # Each reply is known by the message it was streamed into: a reaction there rates it.
    outbox = llm_runtime.delivery.poster.outbox
    for platform, message in (("slack", f"D0CUSTOMER:{slack_fake.posted_ts[0]}"),
                              ("telegram", f"{sent.params['chat_id']}:{next(iter(telegram_fake.messages))[1]}"),
                              ("discord", created.params["id"])):
        assert await outbox.reacted(platform, message) is not None, platform


async def test_a_stream_that_breaks_mid_way_ends_as_the_offline_reply(
        llm_runtime: Runtime, fake_openai: FakeOpenAI) -> None:
    fake_openai.script(Answer("Sure thing! Standard shipping takes three to five business days, and", chunk=8,
                              stall_after=3))
    fake_openai.default = Answer("Something else entirely, retried.")
    async with FakeTelegram() as fake:
        telegram = TelegramAdapter(TelegramPlatform(enabled=True, mode="polling", bot_token=fake_tg.TOKEN,
                                                    api_base_url=fake.url))
        handler = wire_delivery(llm_runtime, [telegram])
        async with running(telegram.start(handler), telegram.stop, lambda: fake.log.wait_for("getMe")):
            await fake.push(private_message(QUESTION, message_id=62))
            await until(lambda: any(c.params.get("reply_markup") for c in fake.log.named("editMessageText")), 30)
            await llm_runtime.delivery.idle()
    [placeholder] = fake.log.named("sendMessage")
    assert placeholder.params["text"] == "Sure thing!"  # shown before the stream broke
    final = fake.log.named("editMessageText")[-1]
    # The offline reply, not the half-written one and not the retry's words.
    assert "Shipping time depends on the method" in final.params["text"]
    assert "Source: Shipping — How long does shipping take?" in final.params["text"]
    for model_words in ("Sure thing", "three to five", "Something else"):
        assert model_words not in final.params["text"]
    assert list(fake.messages.values()) == [final.params["text"]]


# --- a process dies between the placeholder and the final send ------------------------------------------


@pytest.fixture
async def outbox(database_url: str, tmp_path: Path) -> AsyncIterator[Outbox]:
    database = Database(database_url, tmp_path)
    await migrations.upgrade(database)
    yield Outbox(database)
    await database.close()


@pytest.fixture
async def fake_telegram() -> AsyncIterator[FakeTelegram]:
    async with FakeTelegram() as fake:
        yield fake


@pytest.fixture
async def telegram(fake_telegram: FakeTelegram) -> AsyncIterator[TelegramAdapter]:
    adapter = TelegramAdapter(TelegramPlatform(enabled=True, mode="polling", bot_token=fake_tg.TOKEN,
                                               api_base_url=fake_telegram.url))

    async def nothing(inbound: Inbound) -> None:
        return None

    async with running(adapter.start(nothing), adapter.stop, lambda: fake_telegram.log.wait_for("getMe")):
        yield adapter


PRIVATE = ConversationKey("telegram", str(fake_tg.BOT_ID), CHAT, "")


async def test_a_crash_after_the_placeholder_still_delivers_one_reply_by_editing_it(
        outbox: Outbox, telegram: TelegramAdapter, fake_telegram: FakeTelegram) -> None:
    reply = with_key(sample_reply(PRIVATE, f"{CHAT}:71", text="Standard shipping takes 3–5 business days."))
    key = reply_key("telegram", reply.in_reply_to)
    dead = EditingStream(telegram, outbox, EditThrottle(), PRIVATE, key)
    await dead.text("Standard shipping takes")  # shown; then the process dies before the turn is stored
    [posted] = fake_telegram.log.named("sendMessage")

    # The turn is taken over and run again: its stream finds the placeholder instead of posting another.
    again = EditingStream(telegram, outbox, EditThrottle(), PRIVATE, key)
    await again.text("Standard shipping takes")
    await again.text("3–5 business days.")
    assert again.message == dead.message and len(fake_telegram.log.named("sendMessage")) == 1

    # The reply is stored; the first edit fails (Telegram 502), the outbox retries it.
    await outbox.add(reply, customer_id=1)
    fake_telegram.fault("editMessageText", 502, "Bad Gateway")
    poster = ReplyPoster(outbox, "process-b", {"telegram": telegram.send})
    assert await poster.deliver() == 0
    await outbox.hurry(key)
    assert await poster.deliver() == 1
    assert len(fake_telegram.log.named("sendMessage")) == 1  # never a second message
    [final] = [c for c in fake_telegram.log.named("editMessageText") if c.params.get("reply_markup")]
    assert list(fake_telegram.messages.values()) == [final.params["text"]]
    assert final.params["text"].startswith("Standard shipping takes 3–5 business days.")
    assert await outbox.placeholder(key) is None  # done with
    assert dead.message is not None and posted.params["chat_id"] == CHAT
    found = await outbox.reacted("telegram", dead.message)  # the reply is known by the placeholder it became
    assert found is not None and found.in_reply_to == reply.in_reply_to


async def test_a_placeholder_deleted_before_the_final_send_gets_the_reply_posted_once(
        outbox: Outbox, telegram: TelegramAdapter, fake_telegram: FakeTelegram) -> None:
    reply = with_key(sample_reply(PRIVATE, f"{CHAT}:72", text="Standard shipping takes 3–5 business days."))
    key = reply_key("telegram", reply.in_reply_to)
    stream = EditingStream(telegram, outbox, EditThrottle(), PRIVATE, key)
    await stream.text("Standard shipping takes")
    assert stream.message is not None
    chat, _, message = stream.message.rpartition(":")
    fake_telegram.deleted.add((int(chat), int(message)))  # the customer deleted it
    fake_telegram.messages.pop((int(chat), int(message)))

    await outbox.add(reply, customer_id=1)
    poster = ReplyPoster(outbox, "process-a", {"telegram": telegram.send})
    assert await poster.deliver() == 1
    placeholder, final = fake_telegram.log.named("sendMessage")
    assert final.params["text"].startswith("Standard shipping takes 3–5 business days.")
    assert final.params["reply_markup"]["inline_keyboard"]
    assert list(fake_telegram.messages.values()) == [final.params["text"]]
