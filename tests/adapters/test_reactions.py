"""👍/👎 emoji reactions on the bot's replies, on Slack, Telegram and Discord: the real SDKs against the fakes
on loopback, the real engine and outbox behind.

The sender returns the platform's id of the message it posted; the outbox keeps it with the reply, so a
reaction on that message maps back to the customer message it answered. Asserted on what the fakes
received and what the store holds: the vote on the answered section, one follow-up however often the
reaction is delivered, and nothing at all for a reaction on another message or with another emoji.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from sqlmodel import select

from adapters.discord import DiscordAdapter
from adapters.slack import SlackAdapter
from adapters.telegram import TelegramAdapter
from bot.cli.platforms import wire_delivery
from bot.config import DiscordPlatform, SlackPlatform, TelegramPlatform
from bot.runtime import Runtime
from bot.store.tables import AnswerVote, OutboxEntry
from tests.adapters.support import running
from tests.recording import RecordingAdapter
from tests.fakes import discord as fake_dc
from tests.fakes import telegram as fake_tg
from tests.fakes.discord import FakeDiscord, message_payload, reaction_payload
from tests.fakes.slack import FakeSlack, direct_message, event_envelope, reaction_added
from tests.fakes.telegram import FakeTelegram, message_reaction, private_message

ASKED = "how do I return an item?"
ANSWERED_WITH = "Which items can't be returned?"  # the section the sample knowledge answers it with
SORRY = "Sorry that didn't help."


async def votes(runtime: Runtime) -> list[tuple[str, int]]:
    async with runtime.database.session() as session:
        return [(v.section, v.polarity) for v in (await session.exec(select(AnswerVote))).all()]


async def delivered(runtime: Runtime, count: int = 1) -> None:
    """Wait until ``count`` replies are marked delivered (the platform has them a moment before the mark:
    a customer reacts seconds later, a test at once)."""
    for _ in range(500):
        async with runtime.database.session() as session:
            rows = (await session.exec(select(OutboxEntry).where(OutboxEntry.sent_as != ""))).all()
        if len(rows) >= count:
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"fewer than {count} replies marked delivered")


# --- Slack ---------------------------------------------------------------------------------------------


@pytest.fixture
async def fake_slack() -> AsyncIterator[FakeSlack]:
    async with FakeSlack() as fake:
        yield fake


async def test_slack_thumbs_down_reaction_votes_on_the_answer_once_and_others_do_nothing(
        fake_slack: FakeSlack, runtime: Runtime) -> None:
    adapter = SlackAdapter(SlackPlatform(enabled=True, mode="socket", bot_token="xoxb-test", app_token="xapp-test",
                                         api_base_url=fake_slack.api_url))
    handler = wire_delivery(runtime, [adapter])
    async with running(adapter.start(handler, runtime.delivery.feedback), adapter.stop,
                       lambda: fake_slack.log.wait_for("apps.connections.open")):
        question = direct_message(ASKED, ts="1700001000.000100")
        await fake_slack.push("events_api", event_envelope(question))
        [answer] = await fake_slack.log.wait_for("chat.postMessage")
        assert ANSWERED_WITH in answer.params["text"]
        answer_ts = fake_slack.posted_ts[0]
        await delivered(runtime)

        for retry in (0, 1):  # Slack delivers the same reaction event again
            envelope = await fake_slack.push("events_api", event_envelope(reaction_added("-1", "D0CUSTOMER", answer_ts)),
                                             retry_attempt=retry)
            await fake_slack.wait_for_ack(envelope)
        _, follow_up = await fake_slack.log.wait_for("chat.postMessage", count=2)
        assert follow_up.params["thread_ts"] == question["ts"] and SORRY in follow_up.params["text"]

        # Not the bot's message (by item_user, and by the outbox when Slack leaves item_user out), an emoji
        # that is no rating, and the bot's own reaction: acknowledged and ignored.
        for event in (reaction_added("-1", "D0CUSTOMER", question["ts"], item_user="U0CUSTOMER"),
                      reaction_added("-1", "D0CUSTOMER", question["ts"], item_user=None),
                      reaction_added("tada", "D0CUSTOMER", answer_ts),
                      reaction_added("+1", "D0CUSTOMER", answer_ts, user="U0BOT")):
            await fake_slack.wait_for_ack(await fake_slack.push("events_api", event_envelope(event)))
        await runtime.delivery.idle()
    assert await votes(runtime) == [(ANSWERED_WITH, -1)]
    assert len(fake_slack.log.named("chat.postMessage")) == 2


# --- Telegram ------------------------------------------------------------------------------------------


@pytest.fixture
async def fake_telegram() -> AsyncIterator[FakeTelegram]:
    async with FakeTelegram() as fake:
        yield fake


async def test_telegram_thumbs_down_reaction_votes_on_the_answer_once_and_others_do_nothing(
        fake_telegram: FakeTelegram, runtime: Runtime) -> None:
    adapter = TelegramAdapter(TelegramPlatform(enabled=True, mode="polling", bot_token=fake_tg.TOKEN,
                                               api_base_url=fake_telegram.url))
    handler = wire_delivery(runtime, [adapter])
    async with running(adapter.start(handler, runtime.delivery.feedback), adapter.stop,
                       lambda: fake_telegram.log.wait_for("getMe")):
        await fake_telegram.push(private_message(ASKED, message_id=51))
        [answer] = await fake_telegram.log.wait_for("sendMessage")
        assert ANSWERED_WITH in answer.params["text"]
        [(_, answer_id)] = [where for where, text in fake_telegram.messages.items() if text == answer.params["text"]]
        await delivered(runtime)

        await fake_telegram.push(message_reaction(answer_id, "👎"))
        await fake_telegram.push(message_reaction(answer_id, "👎"))  # redelivered after a restart
        _, follow_up = await fake_telegram.log.wait_for("sendMessage", count=2)
        assert SORRY in follow_up.params["text"]

        others = [message_reaction(51, "👎"),  # on the customer's own message
                  message_reaction(answer_id, "🔥"),
                  message_reaction(answer_id, "", old=("👎",))]  # taken back: no new rating
        for update in others:
            await fake_telegram.push(update)
        last = others[-1]["update_id"]
        while not any(int(p.get("offset") or 0) > last for p in fake_telegram.polled):  # fetched: stop runs them
            await asyncio.sleep(0.02)
    await runtime.delivery.idle()
    # Telegram sends reactions only to a bot that asks for them.
    assert all("message_reaction" in p["allowed_updates"] for p in fake_telegram.polled)
    assert await votes(runtime) == [(ANSWERED_WITH, -1)]
    assert len(fake_telegram.log.named("sendMessage")) == 2


# --- Discord -------------------------------------------------------------------------------------------


@pytest.fixture
async def fake_discord() -> AsyncIterator[FakeDiscord]:
    async with FakeDiscord() as fake:
        yield fake


async def test_discord_thumbs_down_reaction_votes_on_the_answer_once_and_others_do_nothing(
        fake_discord: FakeDiscord, runtime: Runtime) -> None:
    adapter = DiscordAdapter(DiscordPlatform(enabled=True, bot_token=fake_dc.BOT_TOKEN, api_base_url=fake_discord.api_url))
    handler = wire_delivery(runtime, [adapter])
    async with running(adapter.start(handler, runtime.delivery.feedback), adapter.stop, fake_discord.identified.wait):
        [identify] = fake_discord.log.named("IDENTIFY")
        import discord
        intents = discord.Intents._from_value(identify.params["intents"])
        assert intents.guild_reactions and intents.dm_reactions
        question = message_payload(ASKED, channel_id=fake_dc.DM_CHANNEL_ID, guild=False)
        await fake_discord.dispatch("MESSAGE_CREATE", question)
        [answer] = await fake_discord.log.wait_for("create_message")
        assert ANSWERED_WITH in answer.params["content"]
        await delivered(runtime)

        for _ in range(2):  # replayed after a reconnect
            await fake_discord.dispatch("MESSAGE_REACTION_ADD",
                                        reaction_payload("👎", answer.params["id"], fake_dc.DM_CHANNEL_ID, guild=False))
        _, follow_up = await fake_discord.log.wait_for("create_message", count=2)
        assert SORRY in follow_up.params["content"]

        for event in (reaction_payload("👎", question["id"], fake_dc.DM_CHANNEL_ID, guild=False, author_id=None),
                      reaction_payload("🎉", answer.params["id"], fake_dc.DM_CHANNEL_ID, guild=False),
                      reaction_payload("👍", answer.params["id"], fake_dc.DM_CHANNEL_ID, guild=False,
                                       user=fake_dc.BOT_USER)):
            await fake_discord.dispatch("MESSAGE_REACTION_ADD", event)
        await fake_discord.dispatch("MESSAGE_CREATE", message_payload("ping", channel_id=fake_dc.DM_CHANNEL_ID, guild=False))
        await fake_discord.log.wait_for("create_message", count=3)  # events are handled in order: all seen
        await runtime.delivery.idle()
    assert await votes(runtime) == [(ANSWERED_WITH, -1)]
    assert len(fake_discord.log.named("create_message")) == 3


async def test_forget_deletes_what_maps_a_message_to_the_customer(recorder: RecordingAdapter, runtime: Runtime) -> None:
    """The outbox row that maps the bot's message to the customer message it answered is the customer's:
    /forget deletes it with the rest, and a reaction on that message afterwards finds nothing."""
    outbox = runtime.delivery.poster.outbox
    reply = await recorder.say(ASKED, user="U1", message_id="ask-9")
    assert reply is not None
    pending = await outbox.lease(reply.delivery_key, "test")
    assert pending is not None
    await outbox.delivered(pending, "D1:1700002000.000100")
    found = await outbox.reacted(recorder.platform, "D1:1700002000.000100")
    assert found is not None and found.in_reply_to == "ask-9" and found.conversation == reply.conversation
    assert await outbox.reacted(recorder.platform, "D1:1700002000.000999") is None
    await outbox.hold_placeholder(reply.delivery_key, recorder.platform, "D1:1700002000.000100")  # a streamed one

    await recorder.say("/forget", user="U1")
    await recorder.say("/forget confirm", user="U1")

    assert await outbox.reacted(recorder.platform, "D1:1700002000.000100") is None
    assert await outbox.placeholder(reply.delivery_key) is None
    async with runtime.database.session() as session:
        kept = (await session.exec(select(OutboxEntry.in_reply_to, OutboxEntry.answered_in, OutboxEntry.sent_as))).all()
    # What is left is the confirmation of the forget itself, which keeps nothing a reaction could map.
    assert kept and all(row == ("", "", "") for row in kept)
