"""Discord end to end: the real discord.py, REST and gateway, against a fake Discord on loopback."""

from __future__ import annotations

from collections.abc import AsyncIterator

import discord
import pytest

from adapters.discord import DiscordAdapter
from bot.config import DiscordPlatform
from bot.runtime import Runtime
from bot.types import ConversationKey, FeedbackKind
from tests.adapters.support import FeedbackLog, Turns, running, sample_reply
from tests.fakes.discord import (
    BOT_USER,
    CHANNEL_ID,
    DM_CHANNEL_ID,
    OTHER_BOT,
    THREAD_CHANNEL,
    THREAD_ID,
    FakeDiscord,
    bot_message_payload,
    interaction_payload,
    message_payload,
)


@pytest.fixture
async def fake_discord() -> AsyncIterator[FakeDiscord]:
    async with FakeDiscord() as fake:
        yield fake


def settings(fake: FakeDiscord) -> DiscordPlatform:
    return DiscordPlatform(enabled=True, bot_token="discord-test-token", api_base_url=fake.api_url)


def buttons(sent: dict[str, object]) -> list[tuple[str, str]]:
    rows = sent.get("components") or []
    return [(b["label"], b["custom_id"]) for row in rows for b in row["components"]]  # type: ignore[index, union-attr]


async def test_dm_is_answered_once_with_buttons_and_clicks_work(fake_discord: FakeDiscord, runtime: Runtime) -> None:
    turns, feedback, adapter = Turns(), FeedbackLog(), DiscordAdapter(settings(fake_discord))
    async with running(adapter.start(turns.wrap(runtime.engine.handle), feedback), adapter.stop,
                       fake_discord.identified.wait):
        [identify] = fake_discord.log.named("IDENTIFY")
        assert identify.params["token"] == "discord-test-token"
        assert not discord.Intents._from_value(identify.params["intents"]).message_content  # no privileged intent

        question = message_payload("how long does shipping take?", channel_id=DM_CHANNEL_ID, guild=False)
        await fake_discord.dispatch("MESSAGE_CREATE", question)
        [sent] = await fake_discord.log.wait_for("create_message")
        assert sent.params["channel_id"] == DM_CHANNEL_ID
        assert "3–5 business days" in sent.params["content"]
        assert "-# Source: Shipping" in sent.params["content"]
        assert sent.params["allowed_mentions"]["parse"] == []  # a reply can never ping @everyone
        labels = buttons(sent.params)
        assert labels[-2:] == [("👍 Helpful", f"f+|{question['id']}"), ("👎 Not helpful", f"f-|{question['id']}")]

        # A reconnect replays the message: still one answer.
        await fake_discord.dispatch("MESSAGE_CREATE", question)
        first, again = await turns.wait_for(question["id"], count=2)
        assert first is not None and again is None
        assert len(fake_discord.log.named("create_message")) == 1

        bot_reply = bot_message_payload(sent.params, DM_CHANNEL_ID, "1100000000000000990", guild=False)
        await fake_discord.dispatch("INTERACTION_CREATE", interaction_payload(f"f+|{question['id']}", bot_reply))
        [rating] = await feedback.wait()
        assert rating.kind is FeedbackKind.HELPFUL and rating.in_reply_to == question["id"]
        [callback] = await fake_discord.log.wait_for("interaction_callback")
        assert callback.params["type"] == 4 and callback.params["data"]["flags"] & 64  # ephemeral thanks

        # A related question offered as a button: clicking it asks it.
        assert labels[0] == ("When will my order ship?", "s|When will my order ship?")
        await fake_discord.dispatch("INTERACTION_CREATE", interaction_payload(labels[0][1], bot_reply))
        _, deferred = await fake_discord.log.wait_for("interaction_callback", count=2)
        assert deferred.params["type"] == 6  # acknowledged within 3 s; the answer follows as a message
        _, answer = await fake_discord.log.wait_for("create_message", count=2)
        assert answer.params["channel_id"] == DM_CHANNEL_ID and "order" in answer.params["content"].lower()  # the clicked question, answered for this customer (who has no orders)


async def test_thread_mention_is_answered_in_the_thread_and_other_messages_are_not(
    fake_discord: FakeDiscord, runtime: Runtime
) -> None:
    turns, adapter = Turns(), DiscordAdapter(settings(fake_discord))
    async with running(adapter.start(turns.wrap(runtime.engine.handle)), adapter.stop, fake_discord.identified.wait):
        await fake_discord.dispatch("MESSAGE_CREATE", message_payload("what is your return policy?"))  # no mention
        await fake_discord.dispatch("MESSAGE_CREATE", message_payload("hi", author=OTHER_BOT, mention_bot=True))
        await fake_discord.dispatch("MESSAGE_CREATE", message_payload("hi", author=BOT_USER, channel_id=CHANNEL_ID))
        question = message_payload("what is your return policy?", channel_id=THREAD_ID, mention_bot=True)
        await fake_discord.dispatch("MESSAGE_CREATE", question)
        [sent] = await fake_discord.log.wait_for("create_message")
        assert sent.params["channel_id"] == THREAD_ID
        assert str(sent.params["message_reference"]["message_id"]) == question["id"]
        assert "30 days" in sent.params["content"]
        assert [inbound.message_id for inbound, _ in turns.done] == [question["id"]]

        bot_reply = bot_message_payload(sent.params, THREAD_ID, "1100000000000000991")
        label, custom_id = buttons(sent.params)[0]
        assert label == "What is the holiday return policy?"
        await fake_discord.dispatch("INTERACTION_CREATE", interaction_payload(custom_id, bot_reply, channel=THREAD_CHANNEL))
        _, answer = await fake_discord.log.wait_for("create_message", count=2)
        assert answer.params["channel_id"] == THREAD_ID  # the follow-up stays in the thread
        assert turns.done[-1][0].conversation.thread == THREAD_ID


async def test_long_reply_is_split_into_messages_under_2000_characters(fake_discord: FakeDiscord) -> None:
    adapter = DiscordAdapter(settings(fake_discord))
    text = "\n\n".join(f"Step {i}. " + "Keep the receipt and the original packaging. " * 8 for i in range(12))
    reply = sample_reply(ConversationKey("discord", "@me", DM_CHANNEL_ID, ""), "1100000000000000801", text=text)

    async def unused(inbound: object) -> None:
        raise AssertionError("no message expected")

    async with running(adapter.start(unused), adapter.stop, fake_discord.identified.wait):
        await adapter.send(reply)
    sent = fake_discord.log.named("create_message")
    assert len(sent) > 1 and all(len(s.params["content"]) <= 2000 for s in sent)
    assert all(s.params["content"].startswith("Step") for s in sent)
    assert [bool(s.params.get("components")) for s in sent] == [False] * (len(sent) - 1) + [True]
