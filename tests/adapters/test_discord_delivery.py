"""Discord delivery: the real discord.py against the fake Discord, asserting on the messages that exist there.

A reply is never posted twice, even when Discord created it and answered 502; private replies go to DMs;
files arrive as attachments; refusals become DeliveryFailed; long replies arrive whole within the limits.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import discord
import discord.http
import pytest

from adapters.discord import DiscordAdapter
from adapters.rendering import render
from bot.config import DiscordPlatform
from bot.errors import DeliveryFailed
from bot.types import ConversationKey, Inbound, OutboundFile, Reply, Source, Suggestion
from tests.adapters.support import running, sample_reply
from tests.fakes.discord import CHANNEL_ID, CUSTOMER, DM_CHANNEL_ID, GUILD_ID, THREAD_ID, FakeDiscord

DM = ConversationKey("discord", "@me", DM_CHANNEL_ID, "")
GUILD_CHANNEL = ConversationKey("discord", GUILD_ID, CHANNEL_ID, "")
GUILD_THREAD = ConversationKey("discord", GUILD_ID, CHANNEL_ID, THREAD_ID)


@pytest.fixture
async def fake() -> AsyncIterator[FakeDiscord]:
    async with FakeDiscord() as fake:
        yield fake


@pytest.fixture
async def adapter(fake: FakeDiscord) -> AsyncIterator[DiscordAdapter]:
    adapter = DiscordAdapter(DiscordPlatform(enabled=True, bot_token="discord-test-token", api_base_url=fake.api_url))
    async with running(adapter.start(_store_only), adapter.stop, fake.identified.wait):
        yield adapter


async def _store_only(inbound: Inbound) -> None:
    return None


def answer(conversation: ConversationKey = DM, **changes: object) -> Reply:
    return sample_reply(conversation, "1100000000000000801", **{"delivery_key": "outbox-801", **changes})


# --- exactly once --------------------------------------------------------------------------------


async def test_a_502_after_discord_created_the_message_does_not_post_it_twice(
    fake: FakeDiscord, adapter: DiscordAdapter
) -> None:
    fake.fault(502, after_create=True)  # Discord wrote the message, then its edge answered 502
    await adapter.send(answer())
    attempts = fake.log.named("create_message_attempt")
    assert len(attempts) == 2  # discord.py retried the 502…
    assert attempts[0].params["nonce"] == attempts[1].params["nonce"] and attempts[0].params["enforce_nonce"]
    assert len(fake.log.named("create_message")) == 1  # …and the customer sees one message


async def test_an_outbox_retry_after_a_transient_failure_does_not_post_twice(
    fake: FakeDiscord, adapter: DiscordAdapter
) -> None:
    fake.fault(503, after_create=True)  # created, then a 503 discord.py does not retry: DeliveryFailed
    with pytest.raises(DeliveryFailed) as failed:
        await adapter.send(answer())
    assert not failed.value.permanent
    await adapter.send(answer())  # the outbox tries again with the same delivery key
    assert len(fake.log.named("create_message_attempt")) == 2
    assert len(fake.log.named("create_message")) == 1


async def test_parts_of_one_reply_and_different_replies_get_different_nonces(
    fake: FakeDiscord, adapter: DiscordAdapter
) -> None:
    text = "\n\n".join(f"Step {i}. " + "Keep the receipt and the original packaging. " * 8 for i in range(12))
    await adapter.send(answer(text=text))
    await adapter.send(answer(text="Another answer.", delivery_key="outbox-802"))
    nonces = [c.params["nonce"] for c in fake.log.named("create_message")]
    assert len(nonces) > 2 and len(set(nonces)) == len(nonces)
    assert all(len(n) <= 25 for n in nonces)


# --- refusals ------------------------------------------------------------------------------------


async def test_missing_access_is_a_permanent_failure(fake: FakeDiscord, adapter: DiscordAdapter) -> None:
    fake.fault(403)
    with pytest.raises(DeliveryFailed) as failed:
        await adapter.send(answer(GUILD_CHANNEL))
    assert failed.value.permanent
    assert fake.log.named("create_message") == []


async def test_a_long_rate_limit_goes_back_to_the_outbox_with_retry_after(
    fake: FakeDiscord, adapter: DiscordAdapter
) -> None:
    fake.fault(429, retry_after=60.0)
    with pytest.raises(DeliveryFailed) as failed:
        await adapter.send(answer())
    assert failed.value.retry_after == 60.0 and not failed.value.permanent


# --- private replies and files -------------------------------------------------------------------


def export(conversation: ConversationKey) -> Reply:
    return answer(conversation, text="Here is everything we hold about you.", private=True, recipient=CUSTOMER["id"],
                  ask_feedback=False, suggestions=(), sources=(),
                  files=(OutboundFile("rapport-export.json", json.dumps({"name": "Ana", "orders": [1042]})),))


async def test_a_private_reply_asked_in_a_guild_is_a_dm_with_the_file_attached(
    fake: FakeDiscord, adapter: DiscordAdapter
) -> None:
    reply = export(GUILD_THREAD)
    await adapter.send(reply)
    [dm] = fake.log.named("create_dm")
    assert str(dm.params["recipient_id"]) == CUSTOMER["id"]
    [sent] = fake.log.named("create_message")
    assert sent.params["channel_id"] == DM_CHANNEL_ID  # never the thread or the channel
    assert "message_reference" not in sent.params
    assert sent.params["files"] == [{"filename": "rapport-export.json", "content": reply.files[0].content.encode()}]


async def test_a_private_reply_to_a_customer_with_closed_dms_fails_permanently_and_posts_nothing(
    fake: FakeDiscord, adapter: DiscordAdapter
) -> None:
    fake.dms_closed.add(CUSTOMER["id"])
    with pytest.raises(DeliveryFailed) as failed:
        await adapter.send(export(GUILD_CHANNEL))
    assert failed.value.permanent
    assert fake.log.named("create_message") == []


async def test_a_file_in_a_dm_is_attached_to_the_message(fake: FakeDiscord, adapter: DiscordAdapter) -> None:
    await adapter.send(export(DM))
    [sent] = fake.log.named("create_message")
    assert sent.params["channel_id"] == DM_CHANNEL_ID
    assert [f["filename"] for f in sent.params["files"]] == ["rapport-export.json"]
    assert fake.log.named("create_dm") == []  # already a DM


# --- limits --------------------------------------------------------------------------------------


async def test_a_20000_character_reply_with_many_sources_and_suggestions_arrives_whole_within_limits(
    fake: FakeDiscord, adapter: DiscordAdapter
) -> None:
    text = " ".join(f"Sentence {i} explains step {i} of the return in words that matter." for i in range(320))
    assert len(text) > 20_000
    sources = tuple(Source(f"Page {i}", f"Section {i}", f"knowledge/pages/p{i}.md", 0.5) for i in range(15))
    suggestions = tuple(Suggestion(f"Question {i}: " + "a very long label that goes on " * 4, f"Tell me about {i}")
                        for i in range(30))
    reply = answer(GUILD_CHANNEL, text=text, sources=sources, suggestions=suggestions)
    await adapter.send(reply)
    assert len(fake.log.named("create_message_attempt")) == len(fake.log.named("create_message"))  # none refused
    sent = fake.log.named("create_message")
    assert len(sent) >= 11
    received = " ".join(c.params["content"] for c in sent)
    rendered = render(reply)
    assert received.replace("-# ", "").split() == rendered.text.split()  # every word, in order, nothing cut
    rows = sent[-1].params["components"]
    assert len(rows) == 5 and rows[-1]["components"][0]["label"] == "👍 Helpful"


async def test_the_fake_refuses_what_discord_refuses_so_the_limits_above_mean_something(
    fake: FakeDiscord, adapter: DiscordAdapter
) -> None:
    channel = adapter.client.get_partial_messageable(int(DM_CHANNEL_ID))
    with pytest.raises(discord.HTTPException) as refused:
        await channel.send("x" * 2001)
    assert (refused.value.status, refused.value.code) == (400, 50035)
    payload = {"content": "hi", "components": [{"type": 1, "components": [
        {"type": 2, "style": 1, "label": "L" * 81, "custom_id": "c" * 101}]}]}
    with pytest.raises(discord.HTTPException) as refused:
        await adapter.client.http.request(discord.http.Route("POST", "/channels/{channel_id}/messages",
                                                             channel_id=int(DM_CHANNEL_ID)), json=payload)
    assert refused.value.code == 50035
    assert fake.log.named("create_message") == []
