"""Slack end to end: the real slack-bolt / slack_sdk against a fake Slack on loopback, the real engine behind.

Socket Mode over a websocket; the HTTP Events API through `rapport serve`. Assertions are on what the
fake Slack received.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from adapters.slack import FEEDBACK_ACTION, SUGGEST_ACTION, SlackAdapter
from bot.config import Config, SlackPlatform
from bot.runtime import Runtime
from bot.types import FeedbackKind, Inbound, Reply
from tests.adapters.support import FeedbackLog, Turns, running, sample_reply, web_process, with_platforms
from tests.fakes.slack import (
    OTHER_TEAM,
    SIGNING_SECRET,
    FakeSlack,
    button_click,
    direct_message,
    event_envelope,
    mention,
    signed_headers,
)


@pytest.fixture
async def fake_slack() -> AsyncIterator[FakeSlack]:
    async with FakeSlack() as fake:
        yield fake


def socket_settings(fake: FakeSlack) -> SlackPlatform:
    return SlackPlatform(enabled=True, mode="socket", bot_token="xoxb-test", app_token="xapp-test",
                         api_base_url=fake.api_url)


def http_settings(fake: FakeSlack) -> SlackPlatform:
    return SlackPlatform(enabled=True, mode="http", bot_token="xoxb-test", signing_secret=SIGNING_SECRET,
                         api_base_url=fake.api_url)


async def test_socket_mode_dm_is_acked_and_answered_in_its_thread_once(fake_slack: FakeSlack, runtime: Runtime) -> None:
    turns, adapter = Turns(), SlackAdapter(socket_settings(fake_slack))
    async with running(adapter.start(turns.wrap(runtime.engine.handle)), adapter.stop,
                       lambda: fake_slack.log.wait_for("apps.connections.open")):
        event = direct_message("how long does shipping take?")
        envelope = await fake_slack.push("events_api", event_envelope(event))
        await fake_slack.wait_for_ack(envelope, timeout=3)
        [post] = await fake_slack.log.wait_for("chat.postMessage")
        assert post.params["channel"] == "D0CUSTOMER"
        assert post.params["thread_ts"] == event["ts"]
        section, context, *actions = post.params["blocks"]
        assert "3–5 business days" in section["text"]["text"]
        assert context["elements"][0]["text"] == "Source: Shipping — How long does shipping take?"
        assert [e["text"]["text"] for e in actions[-1]["elements"]] == ["👍 Helpful", "👎 Not helpful"]
        assert "3–5 business days" in post.params["text"]  # plain fallback for notifications

        # Slack redelivers the same event (retry_attempt 1): acked, the engine skips it, nothing is posted.
        retry = await fake_slack.push("events_api", event_envelope(event), retry_attempt=1)
        await fake_slack.wait_for_ack(retry, timeout=3)
        first, again = await turns.wait_for(f"D0CUSTOMER:{event['ts']}", count=2)
        assert first is not None and again is None
        assert len(fake_slack.log.named("chat.postMessage")) == 1


async def test_socket_mode_buttons_ask_again_in_thread_and_send_feedback(fake_slack: FakeSlack, runtime: Runtime) -> None:
    feedback, adapter = FeedbackLog(), SlackAdapter(socket_settings(fake_slack))
    async with running(adapter.start(runtime.engine.handle, feedback), adapter.stop,
                       lambda: fake_slack.log.wait_for("apps.connections.open")):
        event = mention("can I pay with paypal?", ts="1700000300.000100")  # close matches: suggestions
        await fake_slack.push("events_api", event_envelope(event))
        [post] = await fake_slack.log.wait_for("chat.postMessage")
        suggestions = next(b for b in post.params["blocks"] if b.get("block_id") == "rapport_suggestions")
        button = suggestions["elements"][0]
        assert button["action_id"].startswith(SUGGEST_ACTION)
        bot_message = {"type": "message", "ts": "1700000301.000100", "thread_ts": event["ts"],
                       "text": post.params["text"], "blocks": post.params["blocks"], "bot_id": "B0BOT"}

        await fake_slack.push("interactive", button_click(bot_message, button["action_id"], button["value"]))
        _, answer = await fake_slack.log.wait_for("chat.postMessage", count=2)
        assert answer.params["thread_ts"] == event["ts"]  # the clicked question is answered in the same thread
        assert "payment" in answer.params["text"].lower()
        [update] = await fake_slack.log.wait_for("chat.update")
        assert "asked: " + button["value"] in json.dumps(update.params["blocks"], ensure_ascii=False)

        click = button_click(bot_message, f"{FEEDBACK_ACTION}_helpful", f"C0SUPPORT:{event['ts']}")
        await fake_slack.push("interactive", click)
        [rating] = await feedback.wait()
        assert rating.kind is FeedbackKind.HELPFUL
        assert rating.in_reply_to == f"C0SUPPORT:{event['ts']}"
        assert rating.conversation.thread == event["ts"]


async def test_rate_limited_reply_is_retried_after_retry_after_not_lost(fake_slack: FakeSlack) -> None:
    adapter = SlackAdapter(socket_settings(fake_slack))
    fake_slack.rate_limit(times=1, retry_after=0)
    await adapter.send(sample_reply())
    assert len(fake_slack.log.named("rate_limited")) == 1
    assert len(fake_slack.log.named("chat.postMessage")) == 1


# --- `rapport serve`, HTTP Events API ---------------------------------------------------------------


@pytest.fixture
async def slack_web(
    fake_slack: FakeSlack, repo_config: Config, data_dir: Path, engine_turns: Turns
) -> AsyncIterator[object]:
    """`rapport serve` in Slack HTTP mode; ``engine_turns`` first, so it sees every turn of this process."""
    async with web_process(with_platforms(repo_config, slack=http_settings(fake_slack)), data_dir) as client:
        yield client


async def test_serve_answers_a_signed_mention_once_in_its_thread_and_acks_retries(
    slack_web: object, fake_slack: FakeSlack, engine_turns: Turns
) -> None:
    client = slack_web
    event = mention("what is your return policy?", ts="1700000400.000100", thread_ts="1700000399.000900")
    body = json.dumps(event_envelope(event)).encode()

    started = time.monotonic()
    response = await client.post("/slack/events", content=body, headers=signed_headers(body))  # type: ignore[attr-defined]
    assert response.status_code == 200 and time.monotonic() - started < 3
    [post] = await fake_slack.log.wait_for("chat.postMessage")
    assert post.params["channel"] == "C0SUPPORT" and post.params["thread_ts"] == "1700000399.000900"
    assert "30 days" in post.params["text"]

    retry = await client.post("/slack/events", content=body, headers=signed_headers(body, retry_num=1))  # type: ignore[attr-defined]
    assert retry.status_code == 200
    replies = await engine_turns.wait_for(f"C0SUPPORT:{event['ts']}", count=2)
    assert replies[0] is not None and replies[1] is None
    assert len(fake_slack.log.named("chat.postMessage")) == 1


async def test_serve_rejects_bad_signatures_and_stale_timestamps_with_401(
    slack_web: object, fake_slack: FakeSlack, engine_turns: Turns
) -> None:
    client = slack_web
    body = json.dumps(event_envelope(mention("hello?", ts="1700000500.000100"))).encode()
    forged = signed_headers(body, secret="not-the-signing-secret")
    stale = signed_headers(body, timestamp=int(time.time()) - 5 * 60 - 30)
    unsigned = {"Content-Type": "application/json"}
    for headers in (forged, stale, unsigned):
        response = await client.post("/slack/events", content=body, headers=headers)  # type: ignore[attr-defined]
        assert response.status_code == 401
    # Rejected before bolt or the engine saw them: no turn, nothing posted.
    assert engine_turns.done == []
    assert fake_slack.log.named("chat.postMessage") == []


async def test_serve_answers_slacks_url_verification_challenge(slack_web: object) -> None:
    body = json.dumps({"token": "t", "challenge": "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P",
                       "type": "url_verification"}).encode()
    response = await slack_web.post("/slack/events", content=body, headers=signed_headers(body))  # type: ignore[attr-defined]
    assert response.status_code == 200
    assert "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P" in response.text


async def test_external_slack_connect_user_gets_no_internal_only_knowledge(
    fake_slack: FakeSlack, repo_config: Config, data_dir: Path
) -> None:
    # U0STAFF is an admin: proof that this question does reach the internal-only playbook.
    config = with_platforms(repo_config, slack=socket_settings(fake_slack), admins=["slack:U0STAFF"])
    question = "what is the goodwill credit limit?"
    async with Runtime.open(config, data_dir) as runtime:
        adapter = SlackAdapter(socket_settings(fake_slack))
        async with running(adapter.start(runtime.engine.handle), adapter.stop,
                           lambda: fake_slack.log.wait_for("apps.connections.open")):
            staff = mention(question, user="U0STAFF", ts="1700000600.000100")
            await fake_slack.push("events_api", event_envelope(staff))
            [staff_post] = await fake_slack.log.wait_for("chat.postMessage")
            assert "Internal escalation playbook" in staff_post.params["text"]
            assert "$20" in staff_post.params["text"]

            # Same shared channel, a user from the partner org (even one listed as admin by mistake).
            for user, ts in (("U0PARTNER", "1700000700.000100"), ("U0STAFF", "1700000800.000100")):
                external = mention(question, user=user, ts=ts, user_team=OTHER_TEAM)
                await fake_slack.push("events_api", event_envelope(external))
            posts = await fake_slack.log.wait_for("chat.postMessage", count=3)
            for post in posts[1:]:
                shown = json.dumps(post.params, ensure_ascii=False)
                assert post.params["thread_ts"] in {"1700000700.000100", "1700000800.000100"}
                for internal in ("Internal escalation playbook", "goodwill credit is for", "$20", "Tier 1", "team lead"):
                    assert internal not in shown


async def test_serve_rejects_malformed_slack_bodies_with_4xx(slack_web: object, engine_turns: Turns) -> None:
    client = slack_web
    cases = {
        "invalid json": b'{"type": "event_callback", "event": ',
        "not utf-8": b'{"type": "event_callback", "x": "\xff\xfe"}',
        "not an object": b"[1, 2, 3]",
        "event is not an object": b'{"type": "event_callback", "event": [1]}',
        "no type": b'{"event": {"type": "app_mention"}}',
        "authorizations not a list of objects": b'{"type": "event_callback", "authorizations": "x",'
                                                b' "event": {"type": "app_mention"}}',
        "actions not a list": b'{"type": "block_actions", "actions": 5}',
    }
    for name, body in cases.items():
        response = await client.post("/slack/events", content=body, headers=signed_headers(body))  # type: ignore[attr-defined]
        assert 400 <= response.status_code < 500, (name, response.status_code, response.text)
    huge = json.dumps({"type": "event_callback", "event": {"type": "app_mention", "text": "x" * 1_100_000}}).encode()
    response = await client.post("/slack/events", content=huge, headers=signed_headers(huge))  # type: ignore[attr-defined]
    assert response.status_code == 413
    garbage = b"\x00\x01 not json at all"
    response = await client.post("/slack/events", content=garbage, headers={"Content-Type": "application/json"})  # type: ignore[attr-defined]
    assert response.status_code == 401
    # A signed event missing its fields is acknowledged (Slack would otherwise retry it) and ignored.
    partial = json.dumps(event_envelope({"type": "app_mention"})).encode()
    response = await client.post("/slack/events", content=partial, headers=signed_headers(partial))  # type: ignore[attr-defined]
    assert response.status_code == 200
    assert (await client.get("/healthz")).status_code == 200  # type: ignore[attr-defined]
    await asyncio.sleep(0)
    assert engine_turns.done == []


async def test_a_failing_turn_is_logged_with_context_and_the_next_message_is_answered(
    fake_slack: FakeSlack, caplog: pytest.LogCaptureFixture
) -> None:
    async def handler(inbound: Inbound) -> Reply | None:
        if "boom" in inbound.text:
            raise ConnectionError("vector store went away")
        return Reply(conversation=inbound.conversation, in_reply_to=inbound.message_id, text="pong", ask_feedback=False)

    adapter = SlackAdapter(socket_settings(fake_slack))
    async with running(adapter.start(handler), adapter.stop, lambda: fake_slack.log.wait_for("apps.connections.open")):
        await fake_slack.push("events_api", event_envelope(direct_message("boom", ts="1700000900.000100")))
        await fake_slack.push("events_api", event_envelope(direct_message("ping", ts="1700000901.000100")))
        [post] = await fake_slack.log.wait_for("chat.postMessage")
        assert post.params["text"] == "pong" and post.params["thread_ts"] == "1700000901.000100"
        for _ in range(200):
            failures = [r for r in caplog.records if r.name == "rapport.adapters.slack" and r.levelname == "ERROR"]
            if failures:
                break
            await asyncio.sleep(0.01)
    [failure] = failures
    assert "ts=1700000900.000100" in failure.getMessage() and "channel=D0CUSTOMER" in failure.getMessage()
    assert isinstance(failure.exc_info[1], ConnectionError)  # type: ignore[index]
