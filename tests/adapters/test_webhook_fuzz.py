"""Fuzzing both webhooks with authentic junk: no response is ever a 5xx, no exception escapes an adapter.

Every Slack body is signed with the right signing secret and every Telegram update carries the right
secret token, so each one gets past authentication and reaches the parsers, bolt and python-telegram-bot:
event envelopes, interaction forms, slash commands, random bytes, deep nesting, huge numbers, lone
surrogates and NULs. The real web app serves a real SlackAdapter and TelegramAdapter pointed at the
loopback fakes; the handler records what reached it.

Examples per webhook: ``RAPPORT_FUZZ_EXAMPLES`` when set; else 300 under CI (``CI=true``, a bounded run of
a few seconds) and 1,000 elsewhere (2,000 requests in all). ``RAPPORT_FUZZ_EXAMPLES=2000`` is the long run
(4,000 requests, about half a minute on the 2-core CI machine).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from adapters.slack import SlackAdapter
from adapters.telegram import TelegramAdapter
from adapters.web import create_web_app
from bot.config import SlackPlatform, TelegramPlatform
from bot.types import Feedback, Inbound, Reply
from tests.adapters.support import running
from tests.fakes.slack import SIGNING_SECRET, FakeSlack, direct_message, event_envelope, mention, signed_headers
from tests.fakes.telegram import BOT_USERNAME, TOKEN, FakeTelegram, callback_query, group_message, private_message

EXAMPLES = int(os.environ.get("RAPPORT_FUZZ_EXAMPLES") or (300 if os.environ.get("CI") else 1000))
TELEGRAM_SECRET = "fuzz-Webhook_secret"
SLACK_PATH, TELEGRAM_PATH = "/slack/events", "/telegram/webhook"

FUZZ_SETTINGS = settings(
    max_examples=EXAMPLES,
    deadline=None,  # the first requests warm up bolt and the SDKs
    database=None,  # nothing written into the shared working tree; failures print their reproduction blob
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
)


# --- junk as platforms could send it ----------------------------------------------------------------

# Text with what breaks naive code: NULs, lone surrogates (JSON escapes them), control and RTL characters.
nasty_text = st.one_of(
    st.text(max_size=60),
    st.lists(st.sampled_from(["\x00", "\ud800", "\udfff", "\u202e", "\ufeff", "<@U0BOT>", "&amp;", "\n", "é", "a"]),
             max_size=20).map("".join),
    st.sampled_from(["", " ", "\x00", "hi\x00there", "\ud83d", "/link", "/forget confirm", "1", "<@U0BOT> help"]),
)


def one_of_these(values: tuple[Any, ...]) -> st.SearchStrategy[Any]:
    """Like sampled_from, but a failure report shows an index rather than 5,000-digit numbers."""
    return st.integers(min_value=0, max_value=len(values) - 1).map(values.__getitem__)


HUGE_NUMBERS = (10**400, -(10**400), 2**63, 2**64 - 1, 253402300800, -1)
huge_numbers = st.one_of(
    st.integers(min_value=-(2**70), max_value=2**70),
    one_of_these(HUGE_NUMBERS),
    st.floats(allow_nan=True, allow_infinity=True),
)
scalars = st.one_of(st.none(), st.booleans(), huge_numbers, nasty_text)
junk = st.recursive(scalars, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(nasty_text, inner, max_size=4),
                    max_leaves=12)


def maybe(value: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """A realistic value most of the time, junk of any type otherwise."""
    return st.one_of(value, value, junk)


def with_extras(base: st.SearchStrategy[dict[str, Any]], keys: list[str]) -> st.SearchStrategy[dict[str, Any]]:
    """``base`` with some of ``keys`` set to junk, and sometimes some of its own keys removed."""

    @st.composite
    def build(draw: st.DrawFn) -> dict[str, Any]:
        payload = dict(draw(base))
        for key in draw(st.lists(st.sampled_from(keys), max_size=3, unique=True)):
            payload[key] = draw(junk)
        for key in draw(st.lists(st.sampled_from(sorted(payload) or ["_"]), max_size=2, unique=True)):
            payload.pop(key, None)
        return payload

    return build()


def deep(depth: int, kind: str) -> str:
    return {"list": "[" * depth + "]" * depth, "dict": '{"a":' * depth + "1" + "}" * depth,
            "open": "[" * depth}[kind]


deep_bodies = st.builds(deep, st.integers(min_value=500, max_value=200_000), st.sampled_from(["list", "dict", "open"]))
# 5,000 digits: past Python's int-from-string limit (4,300), so json.loads raises ValueError on them.
huge_number_bodies = one_of_these(('{"type": "event_callback", "event_time": 1' + "0" * 5000 + "}",
                                   '{"update_id": 1' + "0" * 5000 + "}", '{"update_id": 1e999999}',
                                   '{"update_id": -0, "message": {"date": 1e400}}', "NaN", "[Infinity]"))
raw_bytes = st.binary(max_size=300)


def dumps(value: Any) -> str:
    return json.dumps(value, allow_nan=True)


def form(fields: dict[str, Any]) -> str:
    # surrogatepass: a lone surrogate is sent percent-encoded as the invalid UTF-8 it makes.
    return urlencode({k: v if isinstance(v, str) else dumps(v) for k, v in fields.items()},
                     encoding="utf-8", errors="surrogatepass")


# --- Slack ----------------------------------------------------------------------------------------

slack_event = with_extras(st.fixed_dictionaries({
    "type": maybe(st.sampled_from(["message", "app_mention", "reaction_added", "member_joined_channel"])),
    "user": maybe(st.sampled_from(["U0CUSTOMER", "U0BOT", ""])),
    "text": maybe(nasty_text),
    "ts": maybe(st.sampled_from(["1700000100.000200", "0", "", "9" * 40, "abc"])),
    "channel": maybe(st.sampled_from(["D0CUSTOMER", "C0SUPPORT", ""])),
    "channel_type": maybe(st.sampled_from(["im", "channel", "group", "mpim"])),
    "team": maybe(st.sampled_from(["T0HOME", "T0OTHER"])),
}), ["thread_ts", "subtype", "bot_id", "files", "blocks", "edited", "message", "user_team", "event_ts", "hidden"])


@st.composite
def slack_envelopes(draw: st.DrawFn) -> tuple[str, str]:
    envelope = event_envelope(draw(slack_event))
    envelope = draw(with_extras(st.just(envelope), ["team_id", "authorizations", "type", "event", "enterprise_id",
                                                     "is_ext_shared_channel", "challenge"]))
    return dumps(envelope), "application/json"


slack_interaction = with_extras(st.fixed_dictionaries({
    "type": maybe(st.sampled_from(["block_actions", "view_submission", "shortcut"])),
    "user": maybe(st.fixed_dictionaries({"id": maybe(st.just("U0CUSTOMER")), "team_id": maybe(st.just("T0HOME"))})),
    "team": maybe(st.fixed_dictionaries({"id": maybe(st.just("T0HOME"))})),
    "channel": maybe(st.fixed_dictionaries({"id": maybe(st.just("C0SUPPORT"))})),
    "container": maybe(st.fixed_dictionaries({"message_ts": maybe(st.just("1700000000.000100"))})),
    "message": maybe(st.fixed_dictionaries({"ts": maybe(st.just("1700000000.000100")), "text": maybe(nasty_text),
                                            "blocks": junk})),
    "trigger_id": maybe(st.just("1.2.3")),
    "actions": maybe(st.lists(with_extras(st.fixed_dictionaries({
        "action_id": maybe(st.sampled_from(["rapport_suggest_0", "rapport_feedback_up", "rapport_feedback_down",
                                            "rapport_desk_claim", "rapport_desk_resolve", "other"])),
        "value": maybe(nasty_text), "block_id": maybe(st.just("b")),
    }), ["type", "text", "action_ts"]), max_size=3)),
}), ["response_url", "api_app_id", "state", "view", "enterprise"])


@st.composite
def slack_interaction_forms(draw: st.DrawFn) -> tuple[str, str]:
    payload = draw(st.one_of(slack_interaction.map(dumps), nasty_text, deep_bodies))
    return form({"payload": payload}), "application/x-www-form-urlencoded"


slash_command = with_extras(st.fixed_dictionaries({
    "command": maybe(st.sampled_from(["/link", "/export", "/forget", "/rapport", "/other", "link", ""])),
    "text": maybe(nasty_text),
    "user_id": maybe(st.just("U0CUSTOMER")),
    "channel_id": maybe(st.sampled_from(["D0CUSTOMER", "C0SUPPORT"])),
    "team_id": maybe(st.sampled_from(["T0HOME", "T0OTHER"])),
    "trigger_id": maybe(st.just("13345224609.738474920.8088930838d88f008e0")),
    "response_url": maybe(st.just("https://hooks.slack.example/commands/1")),
}), ["user_name", "channel_name", "api_app_id", "enterprise_id", "is_enterprise_install", "type"])


slack_readable = st.one_of(
    st.builds(lambda text: dumps(event_envelope(direct_message(text, ts=f"{time.time():.6f}"))), nasty_text),
    st.builds(lambda text: dumps(event_envelope(mention(text, ts=f"{time.time():.6f}"))), nasty_text),
).map(lambda body: (body, "application/json"))
slack_bodies = st.one_of(
    slack_readable, slack_readable,
    slack_envelopes(),
    slack_interaction_forms(),
    slash_command.map(lambda fields: (form(fields), "application/x-www-form-urlencoded")),
    st.tuples(st.one_of(deep_bodies, huge_number_bodies, junk.map(dumps), nasty_text),
              st.sampled_from(["application/json", "application/x-www-form-urlencoded", "text/plain"])),
    st.tuples(raw_bytes, st.sampled_from(["application/json", "application/x-www-form-urlencoded"])),
)


# --- Telegram -------------------------------------------------------------------------------------

telegram_user = maybe(st.fixed_dictionaries({
    "id": maybe(st.just(555001)), "is_bot": maybe(st.booleans()), "first_name": maybe(nasty_text),
}))
telegram_message = with_extras(st.fixed_dictionaries({
    "message_id": maybe(st.integers(min_value=1, max_value=2**31)),
    "from": telegram_user,
    "chat": maybe(st.fixed_dictionaries({"id": maybe(st.sampled_from([555001, -1001234567890, 0])),
                                         "type": maybe(st.sampled_from(["private", "group", "supergroup", "channel"]))})),
    "date": maybe(st.sampled_from([1700000000, 0, -1, 253402300800, 10**12])),
    "text": maybe(nasty_text),
}), ["entities", "reply_to_message", "message_thread_id", "caption", "photo", "document", "is_topic_message",
     "sender_chat", "forward_origin", "new_chat_members", "sticker"])


@st.composite
def telegram_updates(draw: st.DrawFn) -> str:
    kind = draw(st.sampled_from(["message", "edited_message", "callback_query", "channel_post", "my_chat_member"]))
    if kind == "callback_query":
        body: Any = draw(with_extras(st.fixed_dictionaries({
            "id": maybe(st.just("cq-1")), "from": telegram_user, "chat_instance": maybe(st.just("-88123")),
            "data": maybe(st.sampled_from(["rapport_feedback_up", "suggest:1", "", "x" * 70])),
            "message": maybe(telegram_message),
        }), ["inline_message_id", "game_short_name"]))
    else:
        body = draw(telegram_message)
    update = draw(with_extras(st.fixed_dictionaries({
        "update_id": maybe(st.integers(min_value=0, max_value=2**40)), kind: st.just(body),
    }), ["message", "callback_query", "poll", "chat_member"]))
    return dumps(update)


# Well-formed updates with junk text: most of them reach the handler, so the normalisers get fuzzed too.
readable_updates = st.one_of(
    st.builds(lambda text, mid: dumps(private_message(text, message_id=mid)), nasty_text,
              st.integers(min_value=1, max_value=2**31)),
    st.builds(lambda text: dumps(group_message(f"@{BOT_USERNAME} {text}")), nasty_text),
    st.builds(lambda data, text: dumps(callback_query(data, private_message(text)["message"])),
              st.one_of(nasty_text, st.sampled_from(["rapport_feedback_up", "rapport_feedback_down", "s:0", "s:99"])),
              nasty_text),
)
telegram_bodies = st.one_of(
    readable_updates, readable_updates, telegram_updates(), telegram_updates(),
    deep_bodies, huge_number_bodies, junk.map(dumps), nasty_text, raw_bytes,
)


# --- the web app under test -----------------------------------------------------------------------


class Recorder:
    """The handler behind both adapters: records what reached the engine and answers nothing."""

    def __init__(self) -> None:
        self.inbounds: list[Inbound] = []
        self.feedback: list[Feedback] = []

    async def handle(self, inbound: Inbound) -> Reply | None:
        self.inbounds.append(inbound)
        return None

    async def record_feedback(self, feedback: Feedback) -> None:
        self.feedback.append(feedback)


class Failures(logging.Handler):
    """Every ERROR logged while fuzzing: an exception that escaped an adapter, or a turn bolt saw fail."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def take(self) -> list[str]:
        texts = [self.format(record) for record in self.records]
        self.records.clear()
        return texts


@contextlib.contextmanager
def web_app(kind: str) -> Iterator[tuple[asyncio.Runner, httpx.AsyncClient, Recorder, Failures]]:
    """The real web app with one started adapter, on an event loop of its own: hypothesis drives a plain
    function, and each example runs its request on this loop."""
    failures = Failures()
    failures.setFormatter(logging.Formatter("%(name)s: %(message)s"))
    logging.getLogger().addHandler(failures)
    recorder = Recorder()
    with asyncio.Runner() as runner:
        stack = contextlib.AsyncExitStack()
        client = runner.run(_open(stack, kind, recorder))
        try:
            yield runner, client, recorder, failures
        finally:
            runner.run(stack.aclose())
            logging.getLogger().removeHandler(failures)


async def _open(stack: contextlib.AsyncExitStack, kind: str, recorder: Recorder) -> httpx.AsyncClient:
    if kind == "slack":
        fake_slack = await stack.enter_async_context(FakeSlack())
        slack = SlackAdapter(SlackPlatform(enabled=True, mode="http", bot_token="xoxb-test",
                                           signing_secret=SIGNING_SECRET, api_base_url=fake_slack.api_url))
        slack.bind(recorder.handle, recorder.record_feedback)
        app = create_web_app(slack=slack)
    else:
        fake_telegram = await stack.enter_async_context(FakeTelegram())
        telegram = TelegramAdapter(TelegramPlatform(enabled=True, mode="webhook", bot_token=TOKEN,
                                                    webhook_secret=TELEGRAM_SECRET, api_base_url=fake_telegram.url))
        await stack.enter_async_context(running(telegram.start(recorder.handle, recorder.record_feedback),
                                                telegram.stop, lambda: fake_telegram.log.wait_for("getMe")))
        app = create_web_app(telegram=telegram)
    return await stack.enter_async_context(
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://web", timeout=30))


def as_bytes(body: str | bytes) -> bytes:
    # surrogatepass: a lone surrogate in a raw (not JSON-escaped) body arrives as the invalid UTF-8 it is.
    return body if isinstance(body, bytes) else body.encode("utf-8", "surrogatepass")


def assert_answered(response: httpx.Response, failures: Failures, body: bytes) -> None:
    escaped = failures.take()
    shown = body[:300]
    assert response.status_code < 500, f"{response.status_code} {response.text[:200]!r} for {shown!r}"
    assert not escaped, f"errors logged for {shown!r}:\n" + "\n".join(escaped)


def assert_still_healthy(runner: asyncio.Runner, client: httpx.AsyncClient) -> None:
    response = runner.run(client.get("/healthz"))
    assert response.status_code == 200 and response.json()["status"] == "ok"


# --- the fuzz tests -------------------------------------------------------------------------------


def test_fuzzed_signed_slack_requests_never_get_a_5xx() -> None:
    with web_app("slack") as (runner, client, recorder, failures):

        @FUZZ_SETTINGS
        @given(slack_bodies)
        def post(case: tuple[str | bytes, str]) -> None:
            body = as_bytes(case[0])
            response = runner.run(client.post(SLACK_PATH, content=body,
                                              headers=signed_headers(body, content_type=case[1])))
            assert_answered(response, failures, body)

        post()
        assert_still_healthy(runner, client)
        # Authentic, well-formed messages among the junk still reach the engine, NUL-free.
        assert all("\x00" not in inbound.text for inbound in recorder.inbounds)


def test_fuzzed_telegram_updates_with_the_secret_never_get_a_5xx() -> None:
    with web_app("telegram") as (runner, client, recorder, failures):

        @FUZZ_SETTINGS
        @given(telegram_bodies)
        def post(case: str | bytes) -> None:
            body = as_bytes(case)
            response = runner.run(client.post(TELEGRAM_PATH, content=body, headers={
                "X-Telegram-Bot-Api-Secret-Token": TELEGRAM_SECRET, "Content-Type": "application/json"}))
            assert_answered(response, failures, body)

        post()
        assert_still_healthy(runner, client)
        assert all("\x00" not in inbound.text for inbound in recorder.inbounds)


@pytest.mark.parametrize("body", [deep(100_000, "list"), deep(100_000, "dict"), "[" * 1_000_000])
@pytest.mark.parametrize("kind", ["slack", "telegram"])
def test_deep_nesting_is_a_4xx_or_an_ack_never_a_5xx(kind: str, body: str) -> None:
    # The body that took the web process down (RecursionError → 503 → redelivered forever), on both webhooks.
    with web_app(kind) as (runner, client, _, failures):
        raw = body.encode()
        headers = (signed_headers(raw) if kind == "slack"
                   else {"X-Telegram-Bot-Api-Secret-Token": TELEGRAM_SECRET, "Content-Type": "application/json"})
        response = runner.run(client.post(SLACK_PATH if kind == "slack" else TELEGRAM_PATH, content=raw,
                                          headers=headers))
        assert response.status_code in {200, 400, 413}, response.text
        assert not failures.take()
        assert_still_healthy(runner, client)

