"""The Discord gateway survives any frame: the real discord.py against the fake gateway.

A frame orjson refuses (a lone surrogate, as Discord escapes it), an event discord.py cannot parse, or a
frame that is not JSON at all is read or dropped, and the session goes on: the next message is answered
and nothing IDENTIFYs again. When Discord asks the client to reconnect, it RESUMEs.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import pytest

from adapters.discord import DiscordAdapter
from bot.config import DiscordPlatform
from bot.types import Inbound, Reply
from tests.adapters.support import Turns, running, sample_reply
from tests.fakes.discord import DM_CHANNEL_ID, FakeDiscord, message_payload


async def answer(inbound: Inbound) -> Reply:
    return sample_reply(inbound.conversation, inbound.message_id, text=f"Answer to {inbound.message_id}")


@pytest.fixture
async def gateway() -> AsyncIterator[tuple[FakeDiscord, Turns]]:
    turns = Turns()
    async with FakeDiscord() as fake:
        adapter = DiscordAdapter(DiscordPlatform(enabled=True, bot_token="discord-test-token", api_base_url=fake.api_url))
        async with running(adapter.start(turns.wrap(answer)), adapter.stop, fake.identified.wait):
            yield fake, turns


def dm(content: str) -> dict[str, object]:
    return message_payload(content, channel_id=DM_CHANNEL_ID, guild=False)


async def test_a_lone_surrogate_in_a_message_does_not_end_the_session(gateway: tuple[FakeDiscord, Turns]) -> None:
    fake, turns = gateway
    poison, normal = dm("hello \ud800 where is my order?"), dm("how long does shipping take?")
    await fake.dispatch("MESSAGE_CREATE", poison)  # json.dumps escapes it as \ud800, as Discord does
    await fake.dispatch("MESSAGE_CREATE", normal)
    answers = await fake.log.wait_for("create_message", count=2)
    assert sorted(a.params["content"].split("\n")[0] for a in answers) == sorted(
        [f"Answer to {poison['id']}", f"Answer to {normal['id']}"])
    [read] = turns.of(str(poison["id"]))
    assert [i.text for i, _ in turns.done if i.message_id == poison["id"]] == ["hello  where is my order?"]
    assert read is not None
    assert len(fake.log.named("IDENTIFY")) == 1 and fake.log.named("RESUME") == []


async def test_an_event_discord_py_cannot_parse_is_dropped_and_the_next_is_answered(
    gateway: tuple[FakeDiscord, Turns]
) -> None:
    fake, turns = gateway
    broken = dm("no author")
    del broken["author"]  # discord.py's parser raises KeyError inside the gateway loop
    await fake.dispatch("MESSAGE_CREATE", broken)
    await fake.send_raw('{"op": 0, "t": "MESSAGE_CREATE", "s": 99, "d": {"id": ')  # not JSON at all
    normal = dm("how long does shipping take?")
    await fake.dispatch("MESSAGE_CREATE", normal)
    [sent] = await fake.log.wait_for("create_message")
    assert sent.params["content"].startswith(f"Answer to {normal['id']}")
    assert [i.message_id for i, _ in turns.done] == [normal["id"]]
    assert len(fake.log.named("IDENTIFY")) == 1


async def test_a_reconnect_resumes_the_session_instead_of_identifying_again(gateway: tuple[FakeDiscord, Turns]) -> None:
    fake, turns = gateway
    await fake.ask_to_reconnect()
    [resume] = await fake.log.wait_for("RESUME")
    assert resume.params["session_id"] == "fake-session" and resume.params["token"] == "discord-test-token"
    await fake.identified.wait()
    normal = dm("is my order on its way?")
    await fake.dispatch("MESSAGE_CREATE", normal)
    [sent] = await fake.log.wait_for("create_message")
    assert sent.params["channel_id"] == DM_CHANNEL_ID
    assert len(fake.log.named("IDENTIFY")) == 1


def test_the_poison_frame_is_what_orjson_refuses() -> None:
    """The fake sends the frame the way Discord does; orjson (discord.py's decoder here) refuses it."""
    orjson = pytest.importorskip("orjson")
    frame = json.dumps({"op": 0, "t": "MESSAGE_CREATE", "d": {"content": "hello \ud800"}})
    assert "\\ud800" in frame
    with pytest.raises(orjson.JSONDecodeError):
        orjson.loads(frame)
