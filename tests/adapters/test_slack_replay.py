"""Replay of realistic Slack request shapes through the web app: every authentic request is answered 200
(or a deliberate 4xx), never a 5xx and never bolt's 404 for "unhandled" (Slack retries both).

The shapes live in ``payloads/slack/*.json``, modelled on Slack's documented examples: events of many
types and message subtypes, interactions (block_actions, interactive_message, views, shortcuts, dialogs),
slash command form bodies and url_verification. Each is signed like Slack signs it and POSTed through
``create_web_app``; the handler stands in for the durable inbox (it stores and returns None).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest

from adapters.slack import SlackAdapter
from adapters.web import create_web_app
from bot.config import SlackPlatform
from bot.types import Feedback, Inbound, Reply
from tests.fakes.slack import SIGNING_SECRET, FakeSlack, signed_headers

PAYLOADS = Path(__file__).parent / "payloads" / "slack"


def _cases() -> list[Any]:
    cases = []
    for path in sorted(PAYLOADS.glob("*.json")):
        for case in json.loads(path.read_text()):
            cases.append(pytest.param(case, id=f"{path.stem}: {case['name']}"))
    return cases


def encode(case: dict[str, Any]) -> tuple[bytes, str]:
    """The body bytes and content type Slack sends for this kind of request."""
    match case["encoding"]:
        case "json":
            return json.dumps(case["body"]).encode(), "application/json"
        case "form_payload":
            return urlencode({"payload": json.dumps(case["body"])}).encode(), "application/x-www-form-urlencoded"
        case _:
            return urlencode(case["body"]).encode(), "application/x-www-form-urlencoded"


class Stored:
    """The durable inbox as the adapter sees it: takes the message, answers later (returns None)."""

    def __init__(self) -> None:
        self.messages: list[Inbound] = []
        self.feedback: list[Feedback] = []

    async def handle(self, inbound: Inbound) -> Reply | None:
        self.messages.append(inbound)
        return None

    async def rate(self, feedback: Feedback) -> None:
        self.feedback.append(feedback)


@pytest.fixture
async def web() -> AsyncIterator[tuple[httpx.AsyncClient, Stored, FakeSlack]]:
    async with FakeSlack() as fake:
        adapter = SlackAdapter(SlackPlatform(enabled=True, mode="http", bot_token="xoxb-test",
                                             signing_secret=SIGNING_SECRET, api_base_url=fake.api_url))
        stored = Stored()
        adapter.bind(stored.handle, stored.rate)
        transport = httpx.ASGITransport(app=create_web_app(slack=adapter))
        async with httpx.AsyncClient(transport=transport, base_url="http://rapport.test") as client:
            yield client, stored, fake


@pytest.mark.parametrize("case", _cases())
async def test_every_authentic_slack_request_is_acknowledged(
    case: dict[str, Any], web: tuple[httpx.AsyncClient, Stored, FakeSlack]
) -> None:
    client, stored, _ = web
    body, content_type = encode(case)
    response = await client.post("/slack/events", content=body, headers=signed_headers(body, content_type=content_type))
    assert response.status_code == case["expect"], response.text
    match case["acts"]:
        case "inbound":
            [inbound] = stored.messages
            assert inbound.platform == "slack" and inbound.message_id
        case "feedback":
            [feedback] = stored.feedback
            assert feedback.in_reply_to == case["body"]["actions"][0]["value"]
        case "reaction":  # 👍 on a message the bot wrote: Feedback naming that message, for the delivery to map
            [feedback] = stored.feedback
            item = case["body"]["event"]["item"]
            assert feedback.reacted_to == f"{item['channel']}:{item['ts']}" and feedback.in_reply_to == ""
        case "challenge":
            assert case["body"]["challenge"] in response.text
        case _:
            assert stored.messages == [] and stored.feedback == []


def test_the_replay_covers_the_shapes_slack_sends() -> None:
    cases = [c.values[0] for c in _cases()]
    assert len(cases) >= 40
    kinds = {c["body"].get("type") or ("command" if "command" in c["body"] else "other") for c in cases}
    assert {"event_callback", "block_actions", "interactive_message", "view_submission", "view_closed", "shortcut",
            "message_action", "url_verification", "command"} <= kinds
    events = {c["body"]["event"]["type"] for c in cases if c["body"].get("type") == "event_callback"}
    assert {"app_uninstalled", "tokens_revoked", "reaction_added", "member_joined_channel", "app_home_opened"} <= events
    subtypes = {c["body"]["event"].get("subtype") for c in cases if c["body"].get("type") == "event_callback"}
    assert {"message_changed", "message_deleted", "bot_message", "channel_join", "file_share", "thread_broadcast"} <= subtypes
