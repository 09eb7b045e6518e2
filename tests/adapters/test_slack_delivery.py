"""SlackAdapter.send against the fake Slack (which refuses what real Slack refuses): long answers within
Block Kit's limits, private replies, files, and DeliveryFailed for what Slack did not accept."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

import pytest

from adapters.slack import SlackAdapter
from bot.config import SlackPlatform
from bot.errors import DeliveryFailed
from bot.types import ConversationKey, OutboundFile, Source
from tests.adapters.support import sample_reply
from tests.fakes.server import Call
from tests.fakes.slack import SIGNING_SECRET, TEAM, FakeSlack, event_envelope, signed_headers

CHANNEL = ConversationKey("slack", TEAM, "C0SUPPORT", "1700000000.000100")
DM = ConversationKey("slack", TEAM, "D0ANA", "1700000000.000200")


@pytest.fixture
async def fake() -> AsyncIterator[FakeSlack]:
    async with FakeSlack() as slack:
        yield slack


def adapter_for(fake: FakeSlack) -> SlackAdapter:
    return SlackAdapter(SlackPlatform(enabled=True, mode="http", bot_token="xoxb-test", signing_secret=SIGNING_SECRET,
                                      api_base_url=fake.api_url))


def sections(posts: list[Call]) -> list[str]:
    return [b["text"]["text"] for p in posts for b in p.params["blocks"] if b["type"] == "section"]


def context_texts(posts: list[Call]) -> list[str]:
    return [e["text"] for p in posts for b in p.params["blocks"] if b["type"] == "context" for e in b["elements"]]


def escaped(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


# --- Block Kit limits (issue 9, item 15) ----------------------------------------------------------------


async def test_a_section_full_of_ampersands_stays_within_slack_limits_after_escaping(fake: FakeSlack) -> None:
    text = " ".join(["R&D <team> & co"] * 190)  # 2,999 characters; escaping adds about 1,700
    await adapter_for(fake).send(sample_reply(text=text, sources=(), suggestions=(), ask_feedback=False))
    posts = fake.log.named("chat.postMessage")
    assert all(len(s) <= 3000 for s in sections(posts))
    assert " ".join(sections(posts)) == escaped(text)


async def test_forty_sources_fit_in_context_elements_slack_accepts(fake: FakeSlack) -> None:
    sources = tuple(Source(f"Policy page {i}", f"A rather long section title number {i} about returns & refunds",
                           f"knowledge/pages/p{i}.md", 0.5) for i in range(40))
    await adapter_for(fake).send(sample_reply(text="Here is everything we have.", sources=sources))
    [post] = fake.log.named("chat.postMessage")
    shown = " ".join(context_texts([post]))
    for i in range(40):
        assert f"Policy page {i} — A rather long section title number {i} about returns &amp; refunds" in shown


async def test_a_very_long_answer_continues_in_further_messages_in_the_same_thread(fake: FakeSlack) -> None:
    paragraphs = [f"Paragraph {i}: shipping & returns <details> " + "word " * 90 for i in range(300)]
    text = "\n\n".join(paragraphs)  # about 150,000 characters: more than 50 sections
    await adapter_for(fake).send(sample_reply(text=text, sources=()))
    posts = fake.log.named("chat.postMessage")
    assert len(posts) > 1
    assert {p.params["thread_ts"] for p in posts} == {CHANNEL.thread}
    assert all(len(p.params["blocks"]) <= 50 and len(p.params["text"]) <= 3001 for p in posts)
    # Nothing cut: every paragraph arrived, in order; the buttons come with the last part.
    assert " ".join(sections(posts)).split() == escaped(text).split()
    assert any(b.get("block_id") == "rapport_feedback" for b in posts[-1].params["blocks"])


async def test_a_retried_reply_resumes_after_the_parts_slack_already_accepted(fake: FakeSlack) -> None:
    adapter = adapter_for(fake)
    reply = sample_reply(text="\n\n".join("word " * 500 for _ in range(120)), delivery_key="outbox:42")
    first_part_posted = False

    async def second_part_fails() -> None:
        nonlocal first_part_posted
        await fake.log.wait_for("chat.postMessage", count=1)
        first_part_posted = True
        fake.fail("chat.postMessage", times=2, status=502)  # the SDK's one retry fails too

    # Armed when the fake records the first post, before its answer reaches the client.
    failing = asyncio.ensure_future(second_part_fails())
    with pytest.raises(DeliveryFailed) as failed:
        await adapter.send(reply)
    await failing
    assert first_part_posted and not failed.value.permanent
    await adapter.send(reply)  # the outbox tries again
    posts = fake.log.named("chat.postMessage")
    assert " ".join(sections(posts)).split() == escaped(reply.text).split()  # each part exactly once


# --- private replies and files (items 1 and 6) --------------------------------------------------------


async def test_a_private_reply_in_a_shared_channel_is_ephemeral_to_the_recipient(fake: FakeSlack) -> None:
    await adapter_for(fake).send(sample_reply(text="Your link code is 4821-7730.", private=True, recipient="U0ANA"))
    [ephemeral] = fake.log.named("chat.postEphemeral")
    assert ephemeral.params["channel"] == "C0SUPPORT" and ephemeral.params["user"] == "U0ANA"
    assert ephemeral.params["thread_ts"] == CHANNEL.thread
    assert "4821-7730" in json.dumps(ephemeral.params["blocks"])
    assert fake.log.named("chat.postMessage") == []


async def test_a_private_reply_in_a_dm_is_an_ordinary_message(fake: FakeSlack) -> None:
    await adapter_for(fake).send(sample_reply(DM, text="Your code: 4821.", private=True, recipient="U0ANA"))
    [post] = fake.log.named("chat.postMessage")
    assert post.params["channel"] == "D0ANA"
    assert fake.log.named("chat.postEphemeral") == []


async def test_a_private_reply_without_a_recipient_is_never_posted_in_the_channel(fake: FakeSlack) -> None:
    with pytest.raises(DeliveryFailed) as failed:
        await adapter_for(fake).send(sample_reply(text="secret", private=True))
    assert failed.value.permanent
    assert fake.log.named("chat.postMessage") == [] and fake.log.named("chat.postEphemeral") == []


async def test_export_files_of_a_private_reply_are_uploaded_to_the_users_dm(fake: FakeSlack) -> None:
    export = json.dumps({"customer": "ana", "orders": [{"id": "1001", "total": 89.0}]}, indent=2)
    reply = sample_reply(text="Here is your data export.", private=True, recipient="U0ANA",
                         files=(OutboundFile("rapport-export.json", export),))
    await adapter_for(fake).send(reply)
    [opened] = fake.log.named("conversations.open")
    assert opened.params["users"] == "U0ANA"
    [completed] = fake.log.named("files.completeUploadExternal")
    assert completed.params["channel_id"] == "D0ANA"  # the DM the fake opened, never C0SUPPORT
    assert not completed.params.get("thread_ts")
    [(file_id, content)] = fake.uploads.items()
    assert content == export.encode()
    assert json.loads(completed.params["files"])[0]["id"] == file_id
    assert fake.log.named("chat.postMessage") == []  # the text itself stayed ephemeral
    assert len(fake.log.named("chat.postEphemeral")) == 1


async def test_files_of_a_public_reply_are_uploaded_into_its_thread(fake: FakeSlack) -> None:
    reply = sample_reply(files=(OutboundFile("sizes.csv", "size,cm\nM,40\n", "text/csv"),))
    await adapter_for(fake).send(reply)
    [completed] = fake.log.named("files.completeUploadExternal")
    assert completed.params["channel_id"] == "C0SUPPORT" and completed.params["thread_ts"] == CHANNEL.thread
    assert list(fake.uploads.values()) == [b"size,cm\nM,40\n"]


# --- DeliveryFailed (item 3) ------------------------------------------------------------------------


async def test_a_gateway_error_after_the_sdks_retry_is_a_transient_failure(fake: FakeSlack) -> None:
    fake.fail("chat.postMessage", times=5, status=502)
    with pytest.raises(DeliveryFailed) as failed:
        await adapter_for(fake).send(sample_reply())
    assert not failed.value.permanent
    assert len(fake.log.named("failed:chat.postMessage")) == 2  # the first try and the SDK's retry


@pytest.mark.parametrize("error", ["channel_not_found", "not_in_channel", "is_archived", "invalid_auth",
                                   "token_revoked", "account_inactive"])
async def test_a_refusal_slack_will_repeat_is_a_permanent_failure(fake: FakeSlack, error: str) -> None:
    fake.fail("chat.postMessage", error=error)
    with pytest.raises(DeliveryFailed) as failed:
        await adapter_for(fake).send(sample_reply())
    assert failed.value.permanent and error in failed.value.message


async def test_a_long_rate_limit_is_handed_back_with_retry_after(fake: FakeSlack) -> None:
    fake.rate_limit(times=1, retry_after=120)
    with pytest.raises(DeliveryFailed) as failed:
        await adapter_for(fake).send(sample_reply())
    assert failed.value.retry_after == 120 and not failed.value.permanent
    assert len(fake.log.named("rate_limited")) == 1  # not waited out for two minutes inside send


async def test_a_short_rate_limit_is_waited_out_and_the_reply_delivered(fake: FakeSlack) -> None:
    fake.rate_limit(times=2, retry_after=0)
    await adapter_for(fake).send(sample_reply())
    assert len(fake.log.named("rate_limited")) == 2 and len(fake.log.named("chat.postMessage")) == 1


async def test_slack_unreachable_is_a_transient_failure() -> None:
    async with FakeSlack() as gone:
        url = gone.api_url
    adapter = SlackAdapter(SlackPlatform(enabled=True, mode="http", bot_token="xoxb-test", api_base_url=url))
    with pytest.raises(DeliveryFailed) as failed:
        await adapter.send(sample_reply())
    assert not failed.value.permanent


@pytest.mark.parametrize("event", [{"type": "app_uninstalled"},
                                   {"type": "tokens_revoked", "tokens": {"oauth": [], "bot": ["U0BOT"]}}])
async def test_nothing_is_sent_to_a_workspace_that_removed_the_app(fake: FakeSlack, event: dict[str, object]) -> None:
    adapter = adapter_for(fake)

    async def ignore(inbound: object) -> None:
        return None

    adapter.bind(ignore)  # type: ignore[arg-type]
    body = json.dumps(event_envelope({**event, "event_ts": "1700000000.000100"})).encode()
    answer = await adapter.handle_http(body, signed_headers(body))
    assert answer.status == 200
    with pytest.raises(DeliveryFailed) as failed:
        await adapter.send(sample_reply())
    assert failed.value.permanent
    assert fake.log.named("chat.postMessage") == []
