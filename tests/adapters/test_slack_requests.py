"""What Slack gets back for a request: the ack only after the message is stored (a 503, or no Socket Mode
ack, when storing failed), authenticated junk acknowledged and dropped, slash commands answered privately.
The real slack-bolt against the fake Slack; HTTP through the web app."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest

from adapters.slack import SlackAdapter
from adapters.web import create_web_app
from bot.config import SlackPlatform
from bot.types import Inbound, Reply
from tests.adapters.support import running
from tests.fakes.slack import SIGNING_SECRET, TEAM, FakeSlack, button_click, direct_message, event_envelope, signed_headers


class Inbox:
    """Stands in for the durable inbox: stores after ``delay``, fails while ``down``, may answer."""

    def __init__(self, delay: float = 0.0, answer: bool = False) -> None:
        self.stored: list[Inbound] = []
        self.delay, self.answer, self.down = delay, answer, False

    async def handle(self, inbound: Inbound) -> Reply | None:
        await asyncio.sleep(self.delay)
        if self.down:
            raise ConnectionError("database is down")
        self.stored.append(inbound)
        if not self.answer:
            return None
        return Reply(conversation=inbound.conversation, in_reply_to=inbound.message_id, text=f"done: {inbound.text}",
                     ask_feedback=False, private=inbound.private, recipient=inbound.user_id)


@pytest.fixture
async def fake() -> AsyncIterator[FakeSlack]:
    async with FakeSlack() as slack:
        yield slack


def http_adapter(fake: FakeSlack, inbox: Inbox) -> SlackAdapter:
    adapter = SlackAdapter(SlackPlatform(enabled=True, mode="http", bot_token="xoxb-test",
                                         signing_secret=SIGNING_SECRET, api_base_url=fake.api_url))
    adapter.bind(inbox.handle)
    return adapter


async def post(adapter: SlackAdapter, body: bytes, content_type: str = "application/json") -> httpx.Response:
    transport = httpx.ASGITransport(app=create_web_app(slack=adapter))
    async with httpx.AsyncClient(transport=transport, base_url="http://rapport.test") as client:
        return await client.post("/slack/events", content=body,
                                 headers=signed_headers(body, content_type=content_type))


def event_body(event: dict[str, Any]) -> bytes:
    return json.dumps(event_envelope(event)).encode()


# --- store before ack -----------------------------------------------------------------------------


async def test_http_ack_comes_only_after_the_message_is_stored(fake: FakeSlack) -> None:
    inbox = Inbox(delay=0.3)
    response = await post(http_adapter(fake, inbox), event_body(direct_message("where is my order?")))
    assert response.status_code == 200
    assert [i.text for i in inbox.stored] == ["where is my order?"]  # stored before Slack heard "200"


async def test_http_store_failure_is_a_503_and_slacks_retry_is_stored_once(fake: FakeSlack) -> None:
    inbox = Inbox()
    adapter = http_adapter(fake, inbox)
    event = direct_message("where is my order?", ts="1700000100.000900")
    inbox.down = True
    failed = await post(adapter, event_body(event))
    assert failed.status_code == 503 and failed.headers.get("retry-after")
    inbox.down = False
    retried = await post(adapter, event_body(event))
    assert retried.status_code == 200
    assert [i.message_id for i in inbox.stored] == ["D0CUSTOMER:1700000100.000900"]


async def test_socket_mode_acks_only_stored_messages(fake: FakeSlack) -> None:
    inbox = Inbox(delay=0.2)
    adapter = SlackAdapter(SlackPlatform(enabled=True, mode="socket", bot_token="xoxb-test", app_token="xapp-test",
                                         api_base_url=fake.api_url))
    async with running(adapter.start(inbox.handle), adapter.stop, lambda: fake.log.wait_for("apps.connections.open")):
        inbox.down = True
        lost = await fake.push("events_api", event_envelope(direct_message("first", ts="1700000200.000100")))
        await asyncio.sleep(0.5)
        inbox.down = False
        kept = await fake.push("events_api", event_envelope(direct_message("second", ts="1700000201.000100")))
        await fake.wait_for_ack(kept)
        assert [i.text for i in inbox.stored] == ["second"]
        assert lost not in fake.acks  # Slack redelivers it


# --- authenticated junk: acknowledged (or a deliberate 400), never a 5xx or a crash after the 200 -------


@pytest.mark.parametrize("ts", ["inf", "nan", "1e400", "99999999999999999999.000100", "-inf"])
async def test_a_timestamp_that_is_no_time_is_still_a_message(fake: FakeSlack, ts: str) -> None:
    inbox = Inbox()
    response = await post(http_adapter(fake, inbox), event_body(direct_message("hello", ts=ts)))
    assert response.status_code == 200
    [stored] = inbox.stored
    assert stored.message_id == f"D0CUSTOMER:{ts}" and stored.received_at.year >= 2024


async def test_lone_surrogates_in_text_and_names_are_removed(fake: FakeSlack) -> None:
    inbox = Inbox()
    event = direct_message("hi \ud83d there", user_profile={"display_name": "an\udc00a", "real_name": "x"})
    response = await post(http_adapter(fake, inbox), json.dumps(event_envelope(event)).encode())  # \ud83d escaped
    assert response.status_code == 200
    [stored] = inbox.stored
    assert (stored.text, stored.display_name) == ("hi  there", "ana")


@pytest.mark.parametrize("change", [
    {"user_profile": ["not", "an", "object"]}, {"files": "F0123"}, {"user": {"id": "U0X"}}, {"channel": 12},
    {"ts": 1700000000.1}, {"text": {"rich": True}}, {"thread_ts": []}, {"files": [1, "x", None]},
])
async def test_events_with_fields_of_the_wrong_kind_are_acknowledged(fake: FakeSlack, change: dict[str, Any]) -> None:
    inbox = Inbox()
    response = await post(http_adapter(fake, inbox), event_body({**direct_message("hello"), **change}))
    assert response.status_code == 200, response.text


async def test_a_click_payload_without_actions_is_acknowledged_and_dropped(fake: FakeSlack) -> None:
    inbox = Inbox()
    click = button_click({"ts": "1700000001.000100", "text": "x"}, "rapport_suggest_0", "hi")
    for actions in ([], [{"action_id": 7, "value": "x"}], [{"value": "no id"}]):
        body = urlencode({"payload": json.dumps({**click, "actions": actions})}).encode()
        response = await post(http_adapter(fake, inbox), body, "application/x-www-form-urlencoded")
        assert response.status_code == 200, (actions, response.text)
    assert inbox.stored == []


async def test_json_nested_too_deep_to_parse_is_a_400(fake: FakeSlack) -> None:
    body = b'{"type": "event_callback", "event": ' + b"[" * 200_000 + b"]" * 200_000 + b"}"
    response = await post(http_adapter(fake, Inbox()), body)
    assert response.status_code == 400


# --- slash commands (item 17) ---------------------------------------------------------------------


def command(name: str, text: str, channel: str = "C0SUPPORT", trigger: str = "1700003000.1.abc") -> dict[str, str]:
    return {"token": "legacy", "team_id": TEAM, "team_domain": "home", "channel_id": channel, "channel_name": "support",
            "user_id": "U0ANA", "user_name": "ana", "command": name, "text": text, "api_app_id": "A0APP",
            "is_enterprise_install": "false", "response_url": "https://hooks.slack.com/commands/T0HOME/1/x",
            "trigger_id": trigger}


async def test_a_slash_command_in_a_channel_is_a_private_turn_answered_ephemerally(fake: FakeSlack) -> None:
    inbox = Inbox(answer=True)
    body = urlencode(command("/link", "4821-7730")).encode()
    response = await post(http_adapter(fake, inbox), body, "application/x-www-form-urlencoded")
    assert response.status_code == 200
    [stored] = inbox.stored
    assert stored.text == "/link 4821-7730" and stored.private
    assert stored.message_id == "C0SUPPORT:cmd:1700003000.1.abc"
    assert (stored.conversation.channel, stored.conversation.thread) == ("C0SUPPORT", "")
    [ephemeral] = fake.log.named("chat.postEphemeral")
    assert ephemeral.params["user"] == "U0ANA" and ephemeral.params["channel"] == "C0SUPPORT"
    assert "done: /link 4821-7730" in ephemeral.params["text"]
    assert fake.log.named("chat.postMessage") == []


@pytest.mark.parametrize(("name", "text", "expected"), [
    ("/rapport", "forget confirm", "/forget confirm"),
    ("/rapport", "", "/help"),
    ("/rapport", "how long does shipping take?", "how long does shipping take?"),
    ("/export", "", "/export"),
    ("/forget", "confirm", "/forget confirm"),
])
async def test_slash_commands_become_the_text_the_engine_knows(fake: FakeSlack, name: str, text: str, expected: str) -> None:
    inbox = Inbox()
    body = urlencode(command(name, text, channel="D0ANA")).encode()
    response = await post(http_adapter(fake, inbox), body, "application/x-www-form-urlencoded")
    assert response.status_code == 200
    [stored] = inbox.stored
    assert stored.text == expected and stored.private and stored.conversation.channel == "D0ANA"


async def test_socket_mode_slash_command_is_acked_and_answered_in_the_dm(fake: FakeSlack) -> None:
    inbox = Inbox(answer=True)
    adapter = SlackAdapter(SlackPlatform(enabled=True, mode="socket", bot_token="xoxb-test", app_token="xapp-test",
                                         api_base_url=fake.api_url))
    async with running(adapter.start(inbox.handle), adapter.stop, lambda: fake.log.wait_for("apps.connections.open")):
        envelope = await fake.push("slash_commands", command("/export", "", channel="D0ANA"))
        await fake.wait_for_ack(envelope)
        [post_] = await fake.log.wait_for("chat.postMessage")
    assert post_.params["channel"] == "D0ANA" and "done: /export" in post_.params["text"]
    assert [i.text for i in inbox.stored] == ["/export"] and inbox.stored[0].private
