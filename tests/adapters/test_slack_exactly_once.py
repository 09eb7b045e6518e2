"""A reply whose sender died mid-send is not posted twice on Slack: each post carries its delivery key
as message metadata, and the process that takes the reply over reads back what Slack already has."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace

import pytest

from adapters.slack import REPLY_EVENT, SlackAdapter
from bot.config import SlackPlatform
from tests.adapters.support import sample_reply
from tests.fakes.slack import SIGNING_SECRET, TEAM, FakeSlack
from bot.types import ConversationKey

THREAD = ConversationKey("slack", TEAM, "C0SUPPORT", "1700000000.000100")
LONG = "\n\n".join(f"Paragraph {n}: " + "standard shipping takes three to five business days. " * 50
                   for n in range(50))  # about 135,000 characters: more than one message holds


@pytest.fixture
async def fake() -> AsyncIterator[FakeSlack]:
    async with FakeSlack() as slack:
        yield slack


def process(fake: FakeSlack) -> SlackAdapter:
    """A fresh adapter: a new process, which remembers nothing of earlier sends."""
    return SlackAdapter(SlackPlatform(enabled=True, mode="http", bot_token="xoxb-test", signing_secret=SIGNING_SECRET,
                                      api_base_url=fake.api_url))


def reply(**changes: object):  # type: ignore[no-untyped-def]
    return sample_reply(THREAD, text=LONG, delivery_key="r-crash-1", **changes)


async def test_every_post_carries_its_delivery_key_and_part(fake: FakeSlack) -> None:
    await process(fake).send(reply())
    posts = fake.log.named("chat.postMessage")
    assert len(posts) >= 2
    assert [p.params["metadata"] for p in posts] == [
        {"event_type": REPLY_EVENT, "event_payload": {"delivery_key": "r-crash-1", "part": n}} for n in range(len(posts))
    ]


async def test_a_reply_taken_over_after_a_crash_is_not_posted_again(fake: FakeSlack) -> None:
    await process(fake).send(reply())  # the first process posted everything, then died before "delivered"
    posted = len(fake.log.named("chat.postMessage"))
    await process(fake).send(reply(maybe_sent=True))  # the next process takes the outbox entry over
    assert len(fake.log.named("chat.postMessage")) == posted
    assert fake.log.named("conversations.replies")


async def test_a_reply_cut_off_halfway_is_finished_from_where_it_stopped(fake: FakeSlack) -> None:
    await process(fake).send(reply())
    everything = [m["text"] for _, _, m in fake.history]
    del fake.history[1:]  # only the first part had reached Slack when the process died
    before = len(fake.log.named("chat.postMessage"))
    await process(fake).send(reply(maybe_sent=True))
    resent = fake.log.named("chat.postMessage")[before:]
    assert [p.params["metadata"]["event_payload"]["part"] for p in resent] == list(range(1, len(everything)))
    assert [m["text"] for _, _, m in fake.history] == everything


async def test_without_a_crash_nothing_is_read_back(fake: FakeSlack) -> None:
    adapter = process(fake)
    await adapter.send(reply())
    await adapter.send(replace(reply(), delivery_key="r-other"))
    assert fake.log.named("conversations.replies") == []  # the check costs a call only after a takeover
