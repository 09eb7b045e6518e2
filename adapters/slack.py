"""Slack: DMs, @mentions and slash commands over Socket Mode or the HTTP Events API, replies in Block Kit.

Pure functions turn Slack payloads into engine types (:func:`event_to_inbound`, :func:`command_to_inbound`,
:func:`click_to_turn`, :func:`desk_message`) and replies into Block Kit messages within Slack's limits
(:func:`reply_messages`). :class:`SlackAdapter` wires them to slack-bolt's async app with
``process_before_response``: the handler (which stores the message durably) is awaited before Slack is
acknowledged, so an ack means "stored"; a handler that raises gets a 503 (HTTP) or no ack (Socket Mode)
and Slack redelivers. Every other authentic request is acknowledged, also those Rapport does not act on:
Slack retries a 404 or 5xx as if it had been lost.

:meth:`SlackAdapter.send` posts every message of a reply or raises :class:`~bot.errors.DeliveryFailed`
(permanent when Slack refused it for good, with ``retry_after`` on a long rate limit), and returns the
first message's id (``channel:ts``). A reply that was streamed edits its placeholder (``chat.update``)
instead of posting its first message, and posts after all when the placeholder is gone. A 👍/👎
``reaction_added`` on a message becomes Feedback (:func:`reaction_to_feedback`); the delivery keeps it only
when that message is one of the bot's replies.
"""

from __future__ import annotations

import asyncio
import html
import json
import logging
import re
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeVar
from urllib.parse import parse_qsl

import aiohttp
from slack_bolt.async_app import AsyncApp, AsyncBoltContext, AsyncBoltRequest
from slack_bolt.error import BoltUnhandledRequestError
from slack_bolt.response import BoltResponse
from slack_sdk.errors import SlackApiError, SlackRequestError
from slack_sdk.http_retry.async_handler import AsyncRetryHandler
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncRateLimitErrorRetryHandler,
)
from slack_sdk.http_retry.request import HttpRequest
from slack_sdk.http_retry.response import HttpResponse
from slack_sdk.http_retry.state import RetryState
from slack_sdk.signature import SignatureVerifier
from slack_sdk.web.async_client import AsyncWebClient

from adapters.rendering import RenderedReply, render, shorten, split_message
from bot.config import SlackPlatform
from bot.errors import ConfigError, DeliveryFailed
from bot.types import (
    Attachment,
    ConversationKey,
    Feedback,
    FeedbackHandler,
    FeedbackKind,
    Inbound,
    MessageHandler,
    OutboundFile,
    Reply,
    clean_text,
)

__all__ = [
    "PLATFORM",
    "DeskMessage",
    "HttpAnswer",
    "SlackAdapter",
    "SlackDesk",
    "SlackClient",
    "SlackDeskSettings",
    "SlackMessage",
    "click_to_turn",
    "command_to_inbound",
    "delivery_failure",
    "desk_message",
    "event_to_inbound",
    "reaction_to_feedback",
    "reply_blocks",
    "reply_messages",
    "web_client",
]

PLATFORM = "slack"
SlackClient = AsyncWebClient  # named here so the composition root needs no import of the SDK itself
DEFAULT_API_BASE_URL = "https://slack.com/api/"
# Message subtypes that are a person writing; everything else (edits, deletions, joins, bots) is not.
PERSON_SUBTYPES = frozenset({None, "file_share", "thread_broadcast"})

# Block Kit limits (docs.slack.dev/reference/block-kit): Slack refuses a message that passes any of them.
SECTION_LIMIT = 3000  # characters of a section's text
CONTEXT_ELEMENT_LIMIT = 3000  # characters of one context element's text
CONTEXT_ELEMENTS = 10  # elements in one context block
ACTIONS_ELEMENTS = 25  # elements in one actions block
BLOCKS_PER_MESSAGE = 50
BUTTON_LABEL_LIMIT = 75
BUTTON_VALUE_LIMIT = 2000
# `text` may hold 40,000 characters, but next to blocks it is only the notification: keep it short.
FALLBACK_TEXT_LIMIT = 3000

REPLY_EVENT = "rapport_reply"  # message metadata event type of the bot's replies
SUGGEST_ACTION = "rapport_suggest"
FEEDBACK_ACTION = "rapport_feedback"
FEEDBACK_BLOCK = "rapport_feedback"
DESK_ACTION = "rapport_desk"
SUGGESTIONS_BLOCK = "rapport_suggestions"
# Slash commands to register in the Slack app (``/rapport forget confirm`` reaches the same commands).
COMMANDS = ("link", "export", "forget", "rapport")
RAPPORT_SUBCOMMANDS = frozenset({"link", "export", "forget", "help", "start"})

RATE_LIMIT_RETRIES = 5
# Waits the SDK does itself; a longer Retry-After goes back to the caller (the outbox) as retry_after.
LONGEST_INLINE_WAIT = 3.0
# Slack error codes that mean "try again later"; any other refusal of a well-formed call is final
# (retrying the same request gets the same answer), among them the ones that end delivery for good.
TRANSIENT_ERRORS = frozenset({
    "ratelimited", "internal_error", "fatal_error", "service_unavailable", "request_timeout",
    "team_added_to_org",
})
GONE_ERRORS = frozenset({
    "channel_not_found", "not_in_channel", "is_archived", "invalid_blocks", "msg_too_long", "account_inactive",
    "token_revoked", "invalid_auth", "not_authed", "user_not_in_channel", "no_text", "missing_scope",
})
# Reactions that rate a reply (Slack names emoji by short name; a skin tone rides after "::").
REACTIONS = {"+1": FeedbackKind.HELPFUL, "thumbsup": FeedbackKind.HELPFUL,
             "-1": FeedbackKind.NOT_HELPFUL, "thumbsdown": FeedbackKind.NOT_HELPFUL}
# chat.update errors that mean the placeholder cannot be edited: the reply is posted instead.
UNEDITABLE_ERRORS = frozenset({"message_not_found", "cant_update_message", "edit_window_closed"})
DELIVERY_MEMORY = 4096  # replies whose progress is remembered, so a retried reply does not repeat its parts

log = logging.getLogger("rapport.adapters.slack")
T = TypeVar("T")


# --- payload → engine types ----------------------------------------------------------------------


def event_to_inbound(body: Mapping[str, Any], bot_user_id: str, home_team: str = "") -> Inbound | None:
    """An Events API envelope (HTTP or Socket Mode payload) as an Inbound; None when it is not a customer
    writing to the bot: not a DM or mention, an edit or deletion, a bot's (or our own) message, empty.

    ``home_team`` is the workspace the app is installed in (``auth.test``); it defaults to the envelope's
    ``authorizations[0].team_id`` or ``team_id``. A user from another team is a Slack Connect external
    user: ``external=True`` and ``external_org`` is their team id.
    """
    event = body.get("event")
    if not isinstance(event, Mapping):
        return None
    kind = event.get("type")
    if kind == "message":
        if event.get("channel_type") != "im":
            return None
    elif kind != "app_mention":
        return None
    if not _a_person_wrote(event):
        return None
    user, channel, ts = _text(event.get("user")), _text(event.get("channel")), _text(event.get("ts"))
    if not (user and channel and ts) or user == bot_user_id:
        return None
    text = _plain_text(event.get("text"), bot_user_id)
    attachments = _attachments(event.get("files"))
    if not text and not attachments:
        return None
    home = home_team or _envelope_team(body)
    user_team = _user_team(event) or home
    external = bool(home) and user_team != home
    thread = _text(event.get("thread_ts")) or ts
    profile = _mapping(event.get("user_profile"))
    return Inbound(
        platform=PLATFORM,
        conversation=ConversationKey(PLATFORM, home, channel, thread),
        user_id=user,
        display_name=_text(profile.get("display_name")) or _text(profile.get("real_name")),
        text=text,
        # Stable across Slack's retries and across the message.im / app_mention copies of one message.
        message_id=f"{channel}:{ts}",
        received_at=_from_ts(ts),
        attachments=attachments,
        external=external,
        external_org=user_team if external else "",
        raw=body,
    )


def command_to_inbound(body: Mapping[str, Any], home_team: str = "") -> Inbound | None:
    """A slash command (``/link 4821``, ``/rapport forget confirm``) as a private Inbound with the text
    ``/link 4821`` (``/rapport <question>`` is the question itself, a bare ``/rapport`` is ``/help``).
    The conversation is the channel it was typed in, without a thread; None when a field is missing."""
    command = _text(body.get("command")).strip().lower()
    user, channel = _text(body.get("user_id")), _text(body.get("channel_id"))
    trigger = _text(body.get("trigger_id"))
    if not (command.startswith("/") and user and channel and trigger):
        return None
    argument = _text(body.get("text")).strip()
    if command == "/rapport":
        first = argument.split(maxsplit=1)[0].lower().lstrip("/") if argument else "help"
        text = f"/{argument.lstrip('/')}" if first in RAPPORT_SUBCOMMANDS and argument else argument or "/help"
    else:
        text = f"{command} {argument}".strip()
    team = _text(body.get("team_id"))
    home = home_team or team
    external = bool(home and team) and team != home
    return Inbound(
        platform=PLATFORM,
        conversation=ConversationKey(PLATFORM, home, channel, ""),
        user_id=user,
        display_name=_text(body.get("user_name")),
        text=text,
        # Slack sends one trigger_id per invocation; a redelivery carries the same one.
        message_id=f"{channel}:cmd:{trigger}",
        external=external,
        external_org=team if external else "",
        private=True,
        raw=body,
    )


@dataclass(frozen=True, slots=True)
class DeskMessage:
    """An agent's message in a handoff thread of the agents' channel (or a claim/resolve button)."""

    thread: str  # ts of the handoff summary: the handoff's desk reference
    agent: str
    text: str
    message_id: str


@dataclass(frozen=True, slots=True)
class SlackDeskSettings:
    """When the agents' desk is a Slack channel: which channel, who may act there, and where their words
    go. Given to the adapter at construction (the composition root builds it from ``handoff.*``)."""

    channel: str  # handoff.slack_channel
    route: Callable[[DeskMessage], Awaitable[None]]  # claim, resolve, or a reply for the customer
    agents: frozenset[str] = frozenset()  # handoff.agents; empty: any member of the home workspace


def desk_message(body: Mapping[str, Any], desk_channel: str, bot_user_id: str) -> DeskMessage | None:
    """A person's reply inside a thread of the desk channel; None for anything else (top-level
    chatter, edits, bots — including our own summaries and notes). Who may act as an agent is the
    adapter's check (:meth:`SlackAdapter.is_agent`), made before this."""
    event = body.get("event")
    if not desk_channel or not isinstance(event, Mapping) or event.get("type") != "message":
        return None
    if _text(event.get("channel")) != desk_channel:
        return None
    if not _a_person_wrote(event):
        return None
    user, ts, thread = _text(event.get("user")), _text(event.get("ts")), _text(event.get("thread_ts"))
    if not (user and ts and thread) or thread == ts or user == bot_user_id:
        return None
    text = clean_text(_plain_text(event.get("text"), bot_user_id))
    return DeskMessage(thread, user, text, f"{desk_channel}:{ts}") if text else None


def click_to_turn(body: Mapping[str, Any], home_team: str = "") -> Inbound | Feedback | None:
    """A ``block_actions`` payload from one of our buttons: a suggestion click becomes the customer's next
    message (in the same thread), a 👍/👎 click becomes Feedback. None for anything else."""
    if body.get("type") != "block_actions":
        return None
    actions, user = body.get("actions"), body.get("user")
    if not isinstance(actions, list) or not actions or not isinstance(actions[0], Mapping) or not isinstance(user, Mapping):
        return None
    action = actions[0]
    action_id, value, action_ts = _text(action.get("action_id")), _text(action.get("value")), _text(action.get("action_ts"))
    message, container = _mapping(body.get("message")), _mapping(body.get("container"))
    channel = _text(_mapping(body.get("channel")).get("id")) or _text(container.get("channel_id"))
    thread = (
        _text(message.get("thread_ts")) or _text(container.get("thread_ts"))
        or _text(message.get("ts")) or _text(container.get("message_ts"))
    )
    user_id = clean_text(_text(user.get("id")))
    if not (channel and thread and user_id and value and action_ts):
        return None
    home = home_team or _text(_mapping(body.get("team")).get("id"))
    conversation = ConversationKey(PLATFORM, home, channel, thread)
    if action_id.startswith(SUGGEST_ACTION):
        user_team = _text(user.get("team_id")) or home
        external = bool(home) and user_team != home
        return Inbound(
            platform=PLATFORM,
            conversation=conversation,
            user_id=user_id,
            display_name=_text(user.get("name")),
            text=value,
            message_id=f"{channel}:click:{action_ts}",
            received_at=_from_ts(action_ts),
            external=external,
            external_org=user_team if external else "",
            raw=body,
        )
    if action_id.startswith(FEEDBACK_ACTION):
        try:
            kind = FeedbackKind(action_id.removeprefix(FEEDBACK_ACTION + "_"))
        except ValueError:
            return None
        return Feedback(
            platform=PLATFORM,
            conversation=conversation,
            user_id=user_id,
            in_reply_to=clean_text(value),
            kind=kind,
            feedback_id=clean_text(f"{user_id}:{action_ts}"),
            received_at=_from_ts(action_ts),
        )
    return None


def reaction_to_feedback(body: Mapping[str, Any], bot_user_id: str, home_team: str = "") -> Feedback | None:
    """A ``reaction_added`` event as Feedback on the message it was put on (``reacted_to`` is
    ``channel:ts``, as :meth:`SlackAdapter.send` returns it); None for any other emoji, a reaction by the
    bot itself, or one on a message Slack says another user wrote. ``feedback_id`` is the same for the same
    (user, message, emoji), so a redelivered or re-added reaction counts once."""
    event = body.get("event")
    if not isinstance(event, Mapping) or event.get("type") != "reaction_added":
        return None
    item = _mapping(event.get("item"))
    user, reaction = _text(event.get("user")), _text(event.get("reaction")).split("::", 1)[0]
    channel, ts = _text(item.get("channel")), _text(item.get("ts"))
    kind = REACTIONS.get(reaction)
    if kind is None or item.get("type") != "message" or not (user and channel and ts) or user == bot_user_id:
        return None
    author = _text(event.get("item_user"))
    if author and bot_user_id and author != bot_user_id:
        return None  # on a person's message: not a rating of a reply
    home = home_team or _envelope_team(body)
    return Feedback(
        platform=PLATFORM,
        conversation=ConversationKey(PLATFORM, home, channel, ""),  # the delivery sets the reply's own
        user_id=clean_text(user),
        in_reply_to="",
        kind=kind,
        feedback_id=clean_text(f"reaction:{user}:{channel}:{ts}:{kind.value}"),
        reacted_to=clean_text(f"{channel}:{ts}"),
        received_at=_from_ts(_text(event.get("event_ts")) or ts),
    )


def _a_person_wrote(event: Mapping[str, Any]) -> bool:
    """A person's own message: no subtype (or a person's one — checked as a string: a signed body may carry
    any JSON there, e.g. a list, which a set lookup cannot take), and not a bot's."""
    subtype = event.get("subtype")
    if subtype is not None and not isinstance(subtype, str):
        return False
    return subtype in PERSON_SUBTYPES and not event.get("bot_id") and not event.get("bot_profile")


def _envelope_team(body: Mapping[str, Any]) -> str:
    authorizations = body.get("authorizations")
    if isinstance(authorizations, list) and authorizations and isinstance(authorizations[0], Mapping):
        team = _text(authorizations[0].get("team_id"))
        if team:
            return team
    return _text(body.get("team_id"))


def _user_team(event: Mapping[str, Any]) -> str:
    """The sender's workspace: ``user_team`` on Slack Connect messages, else ``team``; "" when absent."""
    return _text(event.get("user_team")) or _text(event.get("team"))


_MENTION = re.compile(r"<@([A-Z0-9]+)(?:\|[^>]*)?>")
_CHANNEL = re.compile(r"<#[A-Z0-9]+\|([^>]*)>")
_SPECIAL = re.compile(r"<!(here|channel|everyone)(?:\|[^>]*)?>")
_SPACES = re.compile(r"[ \t]{2,}")
_LINK = re.compile(r"<((?:https?|mailto):[^|>]+)(?:\|([^>]*))?>")


def _plain_text(text: object, bot_user_id: str) -> str:
    """Slack's message markup as the words the customer typed: our mention removed, links as their label."""
    if not isinstance(text, str):
        return ""
    text = _MENTION.sub(lambda m: "" if m.group(1) == bot_user_id else f"@{m.group(1)}", text)
    text = _CHANNEL.sub(lambda m: f"#{m.group(1)}", text)
    text = _SPECIAL.sub(lambda m: f"@{m.group(1)}", text)
    text = _LINK.sub(lambda m: m.group(2) or m.group(1).removeprefix("mailto:"), text)
    return _SPACES.sub(" ", html.unescape(text)).strip()


def _attachments(files: object) -> tuple[Attachment, ...]:
    if not isinstance(files, list):
        return ()
    return tuple(
        Attachment(
            name=_text(f.get("name")) or _text(f.get("title")) or "file",
            mime_type=_text(f.get("mimetype")) or "application/octet-stream",
            url=_text(f.get("url_private")),
            size=_size(f.get("size")),
        )
        for f in files
        if isinstance(f, Mapping)
    )


def _size(value: object) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else 0


def _text(value: object) -> str:
    return value if isinstance(value, str) else ""


def _mapping(value: object) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _from_ts(ts: str) -> datetime:
    """A Slack ``ts`` as a time; now for one that is no time at all (``inf``, ``nan``, year 10000)."""
    try:
        return datetime.fromtimestamp(float(ts), UTC)
    except (ValueError, OverflowError, OSError):
        return datetime.now(UTC)


# --- reply → Block Kit messages ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SlackMessage:
    """One chat.postMessage of a reply: Block Kit blocks and the short notification text."""

    text: str
    blocks: list[dict[str, Any]]


def reply_messages(reply: Reply | RenderedReply) -> list[SlackMessage]:
    """The reply as one or more Slack messages, each within Block Kit's limits: the answer in sections,
    sources in context blocks, suggestion buttons, 👍/👎. A long answer continues in further messages
    rather than being cut."""
    blocks = reply_blocks(reply)
    return [
        SlackMessage(_fallback(chunk), chunk)
        for chunk in (blocks[i:i + BLOCKS_PER_MESSAGE] for i in range(0, len(blocks), BLOCKS_PER_MESSAGE))
    ]


def reply_blocks(reply: Reply | RenderedReply) -> list[dict[str, Any]]:
    """Every block of the reply, in order (:func:`reply_messages` groups them into messages)."""
    rendered = reply if isinstance(reply, RenderedReply) else render(reply)
    # Escape first, then split: escaping lengthens the text, and a split never halves an entity.
    blocks: list[dict[str, Any]] = [
        {"type": "section", "text": {"type": "mrkdwn", "text": piece}}
        for piece in split_message(_escape(rendered.body), SECTION_LIMIT)
    ]
    blocks.extend(_context_blocks(_escape(rendered.sources)))
    if rendered.suggestions:
        blocks.append({
            "type": "actions",
            "block_id": SUGGESTIONS_BLOCK,
            "elements": [
                _button(b.label, f"{SUGGEST_ACTION}_{b.index}", b.value[:BUTTON_VALUE_LIMIT])
                for b in rendered.suggestions[:ACTIONS_ELEMENTS]
            ],
        })
    # A feedback button that cannot name the message it rates is left out.
    if rendered.feedback and rendered.in_reply_to and len(rendered.in_reply_to) <= BUTTON_VALUE_LIMIT:
        blocks.append({
            "type": "actions",
            "block_id": FEEDBACK_BLOCK,
            "elements": [_button(b.label, f"{FEEDBACK_ACTION}_{b.value}", rendered.in_reply_to) for b in rendered.feedback],
        })
    return blocks


def _context_blocks(escaped: str) -> list[dict[str, Any]]:
    elements = [{"type": "mrkdwn", "text": piece} for piece in split_message(escaped, CONTEXT_ELEMENT_LIMIT)]
    return [{"type": "context", "elements": elements[i:i + CONTEXT_ELEMENTS]}
            for i in range(0, len(elements), CONTEXT_ELEMENTS)]


def _fallback(blocks: Sequence[Mapping[str, Any]]) -> str:
    """The notification text of one message: its answer and sources as they read in the blocks."""
    parts = [b["text"]["text"] for b in blocks if b["type"] == "section"]
    parts += [e["text"] for b in blocks if b["type"] == "context" for e in b["elements"]]
    return _fit("\n\n".join(parts), FALLBACK_TEXT_LIMIT) or " "


def _fit(escaped: str, limit: int) -> str:
    """Escaped text cut to ``limit`` characters with an ellipsis, never inside an entity."""
    if len(escaped) <= limit:
        return escaped
    return split_message(escaped, limit - 1)[0] + "…"


def _button(label: str, action_id: str, value: str) -> dict[str, Any]:
    return {
        "type": "button",
        "text": {"type": "plain_text", "text": shorten(label, BUTTON_LABEL_LIMIT), "emoji": True},
        "action_id": action_id,
        "value": value,
    }


def _escape(text: str) -> str:
    """Slack's three control characters, so knowledge text can never become a mention or a link."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _after_click(blocks: object, block_id: str, note: str) -> list[dict[str, Any]] | None:
    """The clicked message's blocks with the clicked row of buttons replaced by a short note."""
    if not isinstance(blocks, list) or not any(isinstance(b, Mapping) and b.get("block_id") == block_id for b in blocks):
        return None
    return [
        {"type": "context", "block_id": block_id, "elements": [{"type": "mrkdwn", "text": _fit(note, CONTEXT_ELEMENT_LIMIT)}]}
        if isinstance(b, Mapping) and b.get("block_id") == block_id
        else dict(b)
        for b in blocks
        if isinstance(b, Mapping)
    ]


# --- delivery errors -----------------------------------------------------------------------------


def delivery_failure(error: Exception, what: str) -> DeliveryFailed:
    """What a failed Web API call means for the outbox: permanent (Slack refused it for good), or
    transient, with ``retry_after`` when Slack said how long to wait."""
    if isinstance(error, SlackApiError):
        status = getattr(error.response, "status_code", 0) or 0
        data = getattr(error.response, "data", None)
        code = _text(data.get("error")) if isinstance(data, Mapping) else ""
        if status == 429 or code == "ratelimited":
            return DeliveryFailed(f"{what}: rate limited by Slack", retry_after=_retry_after(error.response))
        if status >= 500 or code in TRANSIENT_ERRORS:
            return DeliveryFailed(f"{what}: Slack answered {status} {code}".rstrip())
        return DeliveryFailed(f"{what}: Slack refused it ({code or status})", permanent=True)
    # The SDK's own retry handlers already tried again: connection errors, timeouts, a failed upload POST.
    return DeliveryFailed(f"{what}: {type(error).__name__}: {error}")


def _retry_after(response: object) -> float | None:
    headers = getattr(response, "headers", None) or {}
    for name, value in headers.items():
        if name.lower() == "retry-after":
            value = value[0] if isinstance(value, list | tuple) and value else value
            try:
                return max(0.0, float(value))
            except (TypeError, ValueError):
                return None
    return None


class _ShortRateLimitRetry(AsyncRateLimitErrorRetryHandler):
    """Waits out a 429 inside the call only when Slack asks for a short pause; a longer one is the
    outbox's to wait (``DeliveryFailed.retry_after``), so a send never sits for minutes."""

    async def _can_retry_async(self, *, state: RetryState, request: HttpRequest,
                               response: HttpResponse | None = None, error: Exception | None = None) -> bool:
        if response is None or response.status_code != 429:
            return False
        wait = _retry_after(response)
        return wait is not None and wait <= LONGEST_INLINE_WAIT


class _ServerErrorRetry(AsyncRetryHandler):
    """One more try after a gateway error (the SDK's handler only knows 500 and 503)."""

    async def _can_retry_async(self, *, state: RetryState, request: HttpRequest,
                               response: HttpResponse | None = None, error: Exception | None = None) -> bool:
        return response is not None and response.status_code in (500, 502, 503, 504)


# --- requests: what reaches bolt -----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class HttpAnswer:
    """A framework-free HTTP response: the web app turns it into its own type."""

    status: int
    body: str = ""
    headers: dict[str, str] = field(default_factory=dict)


def _parse_http_body(text: str, content_type: str) -> dict[str, Any] | None:
    """The request the way Slack sends it (JSON events, a form with a JSON ``payload`` for clicks, a
    plain form for slash commands); None when it is not a well-formed Slack request."""
    try:
        if content_type.startswith("application/x-www-form-urlencoded"):
            form = dict(parse_qsl(text, keep_blank_values=True))
            if "payload" not in form:
                return form if isinstance(form.get("command"), str) or form.get("ssl_check") == "1" else None
            data = json.loads(form["payload"])
        else:
            data = json.loads(text)
    except (ValueError, KeyError, RecursionError):  # RecursionError: JSON nested thousands deep
        return None
    return data if _well_formed(data) else None


def _well_formed(data: object) -> bool:
    """The shape every Slack request has: an object with a ``type`` (or a slash command's ``command``),
    objects where Slack puts objects."""
    if isinstance(data, dict) and "type" not in data and isinstance(data.get("command"), str):
        return all(isinstance(value, str) for value in data.values())  # a slash command: a flat form
    if not isinstance(data, dict) or not isinstance(data.get("type"), str):
        return False
    for key in ("event", "team", "user", "channel", "container", "message", "enterprise"):
        if key in data and data[key] is not None and not isinstance(data[key], dict | str):
            return False
    if "event" in data and not (isinstance(data["event"], dict) and isinstance(data["event"].get("type"), str)):
        return False
    if "view" in data and data["view"] is not None and not isinstance(data["view"], dict):
        return False
    authorizations = data.get("authorizations")
    if authorizations is not None and not (
        isinstance(authorizations, list) and all(isinstance(a, dict) for a in authorizations)
    ):
        return False
    actions = data.get("actions")
    return actions is None or (isinstance(actions, list) and all(isinstance(a, dict) for a in actions))


_CALLBACK_TYPES = frozenset({"interactive_message", "dialog_submission", "dialog_cancellation", "dialog_suggestion",
                             "shortcut", "message_action", "workflow_step_edit"})


def unusable(body: Mapping[str, Any]) -> str:
    """Why an authentic, well-formed request cannot be routed (bolt would fail on it), or "".

    Such a request is acknowledged and dropped: Slack would only send it again."""
    kind = body.get("type")
    if "command" in body and not isinstance(body.get("command"), str):
        return "command is not text"
    if kind == "block_actions":
        actions = body.get("actions")
        if not isinstance(actions, list) or not actions:
            return "no actions"
        if not isinstance(actions[0].get("action_id"), str):
            return "action without an action_id"
    if kind in _CALLBACK_TYPES and "callback_id" in body and not isinstance(body["callback_id"], str):
        return "callback_id is not text"
    if kind in ("view_submission", "view_closed"):
        view = body.get("view")
        if isinstance(view, dict) and "callback_id" in view and not isinstance(view["callback_id"], str):
            return "view callback_id is not text"
    if kind == "interactive_message" and "callback_id" in body and not body.get("actions"):
        return "no actions"
    return ""


def _ids(body: Mapping[str, Any]) -> str:
    """The ids of a request, for logs: never its text."""
    event = _mapping(body.get("event"))
    team = body.get("team_id") or _mapping(body.get("team")).get("id")
    user = event.get("user") or _mapping(body.get("user")).get("id") or body.get("user_id")
    channel = event.get("channel") or _mapping(body.get("channel")).get("id") or body.get("channel_id")
    values = {"type": body.get("type") or ("command" if "command" in body else None), "event": event.get("type"),
              "team": team, "channel": channel, "ts": event.get("ts"), "user": user}
    return " ".join(f"{name}={_short_id(value)}" for name, value in values.items())


def _short_id(value: object) -> str:
    return clean_text(value[:40]).encode("ascii", "backslashreplace").decode() if isinstance(value, str) else "-"


class _NotStored(Exception):
    """The handler (inbox, feedback or desk) failed: Slack must not get an ack, so it redelivers."""


# --- the adapter ---------------------------------------------------------------------------------


class SlackAdapter:
    """Slack through slack-bolt's async app. ``start`` runs Socket Mode (mode: socket) or, in HTTP mode,
    checks the token and waits while the web app feeds :meth:`handle_http`."""

    platform = PLATFORM

    def __init__(self, settings: SlackPlatform, *, client: AsyncWebClient | None = None,
                 desk: SlackDeskSettings | None = None) -> None:
        """``client``: the Web API client, shared with a ``SlackDesk`` built before this adapter (default:
        a new one from ``settings``); ``desk``: the agents' channel, when the desk is in Slack."""
        self._settings = settings
        self.client = client or web_client(settings)
        self.app = AsyncApp(
            name="rapport",
            client=self.client,
            signing_secret=settings.signing_secret,
            # The listener (which stores the message) runs before the ack: an ack means "stored".
            process_before_response=True,
            # A request no listener takes reaches _on_error, which acknowledges it (bolt would say 404).
            raise_error_for_unhandled_request=True,
        )
        # Socket Mode needs no signing secret; without one every HTTP request is refused.
        self._verifier = SignatureVerifier(settings.signing_secret) if settings.signing_secret else None
        self._handler: MessageHandler | None = None
        self._feedback: FeedbackHandler | None = None
        self._stopped = asyncio.Event()
        self._revoked: set[str] = set()  # workspaces that uninstalled the app or revoked its token
        self._delivered: OrderedDict[str, int] = OrderedDict()  # delivery_key → parts Slack accepted
        self.app.event("app_mention")(self._on_event)
        self.app.event("message")(self._on_event)
        self.app.event("reaction_added")(self._on_reaction)
        self.app.event("app_uninstalled")(self._on_revoked)
        self.app.event("tokens_revoked")(self._on_revoked)
        self.app.action(re.compile(rf"^({SUGGEST_ACTION}|{FEEDBACK_ACTION})_"))(self._on_click)
        self.app.action(re.compile(rf"^{DESK_ACTION}_(claim|resolve)$"))(self._on_desk_click)
        self.app.command(re.compile(rf"^/({'|'.join(COMMANDS)})$"))(self._on_command)
        self._desk = desk
        self.app.error(self._on_error)

    @property
    def mode(self) -> str:
        return self._settings.mode

    def bind(self, handler: MessageHandler, feedback: FeedbackHandler | None = None) -> None:
        self._handler, self._feedback = handler, feedback

    async def start(self, handler: MessageHandler, feedback: FeedbackHandler | None = None) -> None:
        self.bind(handler, feedback)
        try:
            identity = await self.client.auth_test()
        except SlackApiError as error:
            raise ConfigError(
                f"Slack rejected platforms.slack.bot_token ({error.response.get('error')})",
                fix="set SLACK_BOT_TOKEN to the Bot User OAuth Token (xoxb-…) of the installed app",
            ) from error
        log.info("slack connected as %s in team %s (%s mode)", identity.get("user_id"), identity.get("team_id"), self.mode)
        if self.mode == "http":
            await self._stopped.wait()
            return
        # Imported here: the aiohttp Socket Mode client is only needed by the worker process.
        from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler

        socket = AsyncSocketModeHandler(self.app, self._settings.app_token)
        socket.client.socket_mode_request_listeners[:] = [self._on_socket_request]
        await socket.connect_async()
        try:
            await self._stopped.wait()
        finally:
            await socket.close_async()

    async def stop(self) -> None:
        self._stopped.set()

    # --- sending ---

    async def send(self, reply: Reply) -> str | None:
        """Post the reply in the conversation's thread (several messages when it is long), then upload
        its files. A private reply is ephemeral to ``recipient`` outside a DM, and its files go to their
        DM. A reply with ``edit_message`` (its streamed placeholder) edits that message into its first
        part. Returns the first message's ``channel:ts`` (None when it was not posted now, or is
        ephemeral) once Slack accepted every part; raises DeliveryFailed otherwise (a retried reply with
        the same ``delivery_key`` resumes after the parts already accepted)."""
        conversation = reply.conversation
        if conversation.workspace in self._revoked:
            raise DeliveryFailed(f"the app was removed from Slack workspace {conversation.workspace}", permanent=True)
        if reply.private and not reply.recipient:
            raise DeliveryFailed("a private reply names no recipient; it is not posted where others read it",
                                 permanent=True)
        parts: list[SlackMessage | OutboundFile] = [*reply_messages(reply), *reply.files]
        done = self._delivered.get(reply.delivery_key, 0) if reply.delivery_key else 0
        if reply.maybe_sent and not done:  # a placeholder carries the metadata once the final edit reached it
            done = await self._already_posted(reply)
        first: str | None = None
        for index in range(done, len(parts)):
            part = parts[index]
            try:
                if isinstance(part, SlackMessage):
                    posted = await self._post(reply, part, index)
                    first = posted if index == 0 else first
                else:
                    await self._upload(reply, part)
            except (SlackApiError, SlackRequestError, aiohttp.ClientError, TimeoutError, OSError) as error:
                raise delivery_failure(error, f"slack reply {reply.delivery_key or reply.in_reply_to} "
                                              f"part {index + 1}/{len(parts)}") from error
            self._remember(reply.delivery_key, index + 1)
        return first

    async def _post(self, reply: Reply, message: SlackMessage, part: int = 0) -> str | None:
        """Post one message of the reply (edit the placeholder, for the first); its ``channel:ts``."""
        channel, thread = reply.conversation.channel, reply.conversation.thread or None
        common = {"channel": channel, "text": message.text, "blocks": message.blocks, "thread_ts": thread}
        if reply.private and not _is_direct(channel):
            await self.client.chat_postEphemeral(user=reply.recipient, **common)
            return None
        # The delivery key rides along as message metadata: after a crash mid-send, the next process
        # can read back which parts Slack already has instead of posting them twice.
        metadata = ({"event_type": REPLY_EVENT, "event_payload": {"delivery_key": reply.delivery_key, "part": part}}
                    if reply.delivery_key else None)
        if part == 0 and reply.edit_message and (edited := await self._edit_placeholder(reply, message, metadata)):
            return edited
        response = await self.client.chat_postMessage(unfurl_links=False, unfurl_media=False, metadata=metadata,
                                                      **common)
        return f"{_text(response.get('channel')) or channel}:{_text(response.get('ts'))}" if response.get("ts") else None

    async def _edit_placeholder(self, reply: Reply, message: SlackMessage, metadata: dict[str, Any] | None) -> str | None:
        """The reply's first message written over its streamed placeholder; None when that message is
        gone (deleted, too old to edit): the caller posts it instead."""
        channel, _, ts = reply.edit_message.rpartition(":")
        try:
            await self.client.chat_update(channel=channel, ts=ts, text=message.text, blocks=message.blocks,
                                          metadata=metadata)
        except SlackApiError as error:
            if _text(error.response.get("error")) not in UNEDITABLE_ERRORS:
                raise
            log.info("the streamed placeholder is gone; posting the reply", extra={"delivery_key": reply.delivery_key})
            return None
        return reply.edit_message

    # --- streaming: a placeholder edited as checked sentences arrive (bot/llm/stream.py) ---

    async def post_placeholder(self, conversation: ConversationKey, text: str) -> str:
        """Post the first streamed sentences in the conversation's thread; the message's ``channel:ts``."""
        response = await self.client.chat_postMessage(channel=conversation.channel, thread_ts=conversation.thread or None,
                                                      text=_fit(_escape(text), FALLBACK_TEXT_LIMIT),
                                                      unfurl_links=False, unfurl_media=False)
        return f"{_text(response.get('channel')) or conversation.channel}:{_text(response.get('ts'))}"

    async def edit_placeholder(self, conversation: ConversationKey, message: str, text: str) -> None:
        channel, _, ts = message.rpartition(":")
        await self.client.chat_update(channel=channel, ts=ts, text=_fit(_escape(text), FALLBACK_TEXT_LIMIT))

    async def _already_posted(self, reply: Reply) -> int:
        """How many leading parts of this reply the conversation already shows (0 when it can't tell:
        then posting again is the lesser harm than losing the reply)."""
        channel, thread = reply.conversation.channel, reply.conversation.thread
        if reply.private and not _is_direct(channel):
            return 0  # ephemeral messages cannot be read back
        try:
            if thread:
                found = await self.client.conversations_replies(channel=channel, ts=thread, include_all_metadata=True,
                                                                limit=200)
            else:
                found = await self.client.conversations_history(channel=channel, include_all_metadata=True, limit=50)
        except (SlackApiError, SlackRequestError, aiohttp.ClientError, TimeoutError, OSError) as error:
            log.warning("could not check what Slack already has of a reply (%s); sending it in full",
                        type(error).__name__, extra={"delivery_key": reply.delivery_key})
            return 0
        parts = {
            payload.get("part")
            for message in found.get("messages") or [] if isinstance(message, Mapping)
            for metadata in [_mapping(message.get("metadata"))]
            if metadata.get("event_type") == REPLY_EVENT
            for payload in [_mapping(metadata.get("event_payload"))]
            if payload.get("delivery_key") == reply.delivery_key
        }
        done = 0
        while done in parts:
            done += 1
        if done:
            log.info("slack already had %d part(s) of a reply cut off by a crash", done,
                     extra={"delivery_key": reply.delivery_key})
        return done

    async def _upload(self, reply: Reply, file: OutboundFile) -> None:
        channel, thread = reply.conversation.channel, reply.conversation.thread or None
        if reply.private and not _is_direct(channel):
            opened = await self.client.conversations_open(users=reply.recipient)
            channel, thread = _text(_mapping(opened.get("channel")).get("id")), None
        await self.client.files_upload_v2(channel=channel, thread_ts=thread, filename=file.name, title=file.name,
                                          content=file.content)

    def _remember(self, delivery_key: str, parts: int) -> None:
        if not delivery_key:
            return
        self._delivered[delivery_key] = parts
        self._delivered.move_to_end(delivery_key)
        while len(self._delivered) > DELIVERY_MEMORY:
            self._delivered.popitem(last=False)

    # --- receiving ---

    async def handle_http(self, body: bytes, headers: Mapping[str, str], query: str = "") -> HttpAnswer:
        """One POST to /slack/events: signature and timestamp checked first (401), bodies that are not
        Slack requests rejected (400); bolt answers after the listener stored the message (200), or 503
        when storing failed. Authentic requests Rapport does not use are acknowledged (200)."""
        if self._handler is None:
            return HttpAnswer(503, "not started", {"Retry-After": "1"})
        lowered = {k.lower(): v for k, v in headers.items()}
        if not self._signed(body, lowered):
            return HttpAnswer(401, "invalid signature or stale timestamp")
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            return HttpAnswer(400, "body is not UTF-8")
        parsed = _parse_http_body(text, lowered.get("content-type", ""))
        if parsed is None:
            return HttpAnswer(400, "not a Slack event or interaction payload")
        reason = unusable(parsed)
        if reason:
            log.info("dropped a Slack request: %s (%s)", reason, _ids(parsed))
            return HttpAnswer(200)
        try:
            request = AsyncBoltRequest(body=text, query=query, headers=dict(lowered))
        except (ValueError, TypeError, KeyError, AttributeError, IndexError) as error:
            # Signed by Slack and well-formed, yet bolt cannot read it: a redelivery would fail the same way.
            log.warning("dropped a Slack request bolt cannot read: %s (%s)", type(error).__name__, _ids(parsed))
            return HttpAnswer(200)
        response = await self.app.async_dispatch(request)
        return HttpAnswer(response.status, response.body or "", {k: v[0] for k, v in response.headers.items() if v})

    async def _on_socket_request(self, client: Any, request: Any) -> None:
        """A Socket Mode envelope: the same checks as HTTP, then bolt; acked unless storing failed."""
        from slack_bolt.adapter.socket_mode.async_internals import send_async_response
        from slack_bolt.adapter.socket_mode.internals import build_headers

        started, payload = time.time(), request.payload
        reason = "not a Slack request" if not _well_formed(payload) else unusable(payload)
        if reason:
            log.info("dropped a Slack request: %s (%s)", reason, _ids(_mapping(payload)))
            response = BoltResponse(status=200)
        else:
            try:
                bolt_request = AsyncBoltRequest(mode="socket_mode", body=payload, headers=build_headers(request))
            except (ValueError, TypeError, KeyError, AttributeError, IndexError) as error:
                log.warning("dropped a malformed Slack request: %s (%s)", type(error).__name__, _ids(payload))
                response = BoltResponse(status=200)
            else:
                response = await self.app.async_dispatch(bolt_request)
        await send_async_response(client, request, response, started)

    def _signed(self, body: bytes, headers: Mapping[str, str]) -> bool:
        if self._verifier is None:
            return False
        try:
            return self._verifier.is_valid(
                body, headers.get("x-slack-request-timestamp"), headers.get("x-slack-signature")
            )
        except ValueError:  # a timestamp that is not a number
            return False

    def is_agent(self, user: str, team: str, home_team: str) -> bool:
        """Whether ``user`` of workspace ``team`` may act at the desk: a member of the home workspace
        (never a Slack Connect guest), and one of the desk's ``agents`` when that list is set."""
        if not (user and team and home_team) or team != home_team:
            return False
        return self._desk is None or not self._desk.agents or user in self._desk.agents

    # listeners: bolt awaits them before it acknowledges the request

    async def _on_event(self, body: dict[str, Any], context: AsyncBoltContext) -> None:
        event, bot_user = _mapping(body.get("event")), context.bot_user_id or ""
        home = _home_team(context) or _envelope_team(body)
        desk = self._desk
        if desk is not None and desk.channel and _text(event.get("channel")) == desk.channel:
            if not self.is_agent(_text(event.get("user")), _user_team(event), home):
                if not (event.get("bot_id") or event.get("subtype")):
                    log.info("ignored a message in the desk channel from a non-agent (%s)", _ids(body))
                return
            agent_says = desk_message(body, desk.channel, bot_user)
            if agent_says is not None:
                await self._stored(desk.route(agent_says))
                return
        inbound = event_to_inbound(body, bot_user, home)
        if inbound is not None:
            await self._answer(inbound)

    async def _on_reaction(self, body: dict[str, Any], context: AsyncBoltContext) -> None:
        feedback = reaction_to_feedback(body, context.bot_user_id or "", _home_team(context))
        if feedback is not None and self._feedback is not None:
            await self._stored(self._feedback(feedback))

    async def _on_command(self, ack: Any, body: dict[str, Any], context: AsyncBoltContext) -> None:
        await ack()  # an empty ack: the private answer follows as an ephemeral message (or in the DM)
        inbound = command_to_inbound(body, _home_team(context))
        if inbound is None:
            log.info("dropped a slash command without user, channel or trigger (%s)", _ids(body))
            return
        await self._answer(inbound)

    async def _on_revoked(self, body: dict[str, Any]) -> None:
        event = _mapping(body.get("event"))
        if event.get("type") == "tokens_revoked" and not _mapping(event.get("tokens")).get("bot"):
            return  # only users' tokens were revoked; Rapport posts with the bot token
        team = _envelope_team(body)
        if team:
            self._revoked.add(team)
        log.warning("slack %s for team %s: nothing more is sent there", event.get("type"), _short_id(team))

    async def _on_click(self, ack: Any, body: dict[str, Any], context: AsyncBoltContext) -> None:
        await ack()
        turn = click_to_turn(body, _home_team(context))
        message, channel = _mapping(body.get("message")), _text(_mapping(body.get("channel")).get("id"))
        if isinstance(turn, Inbound):
            await self._answer(turn)
            note = f"<@{turn.user_id}> asked: {_escape(turn.text)}"
            await self._replace_buttons(channel, message, SUGGESTIONS_BLOCK, note)
        elif isinstance(turn, Feedback):
            if self._feedback is not None:
                await self._stored(self._feedback(turn))
            await self._replace_buttons(channel, message, FEEDBACK_BLOCK, "Thanks for the feedback!")

    async def _on_desk_click(self, ack: Any, body: dict[str, Any], context: AsyncBoltContext) -> None:
        await ack()
        actions, user = body.get("actions") or [{}], _mapping(body.get("user"))
        verb = _text(actions[0].get("action_id")).rsplit("_", 1)[-1]
        agent, thread = _text(user.get("id")), _text(_mapping(body.get("message")).get("ts"))
        home = _home_team(context) or _text(_mapping(body.get("team")).get("id"))
        if not self.is_agent(agent, _text(user.get("team_id")), home):
            log.info("ignored a desk button clicked by a non-agent (%s)", _ids(body))
            return
        if self._desk is not None and thread:
            click_id = _text(body.get("trigger_id")) or f"{thread}:{agent}:{verb}"
            await self._stored(self._desk.route(DeskMessage(thread, agent, verb, f"click:{click_id}")))

    async def _answer(self, inbound: Inbound) -> None:
        assert self._handler is not None, "SlackAdapter used before start() or bind()"
        reply = await self._stored(self._handler(inbound))
        if reply is None:
            return  # stored: the outbox sends the answer
        try:
            await self.send(reply)
        except DeliveryFailed as error:
            # The message is stored and answered; a redelivery would not send this reply again.
            log.error("slack reply not delivered (%s, permanent=%s): %s", _short_id(inbound.message_id),
                      error.permanent, error.message)

    @staticmethod
    async def _stored(call: Awaitable[T]) -> T:
        try:
            return await call
        except Exception as error:
            raise _NotStored from error

    async def _replace_buttons(self, channel: str, message: Mapping[str, Any], block_id: str, note: str) -> None:
        blocks = _after_click(message.get("blocks"), block_id, note)
        if not (channel and blocks is not None and isinstance(message.get("ts"), str)):
            return
        try:
            await self.client.chat_update(channel=channel, ts=message["ts"], blocks=blocks,
                                          text=_text(message.get("text")) or " ")
        except SlackApiError as error:  # cosmetic: the click itself was handled
            log.warning("could not replace the clicked buttons (channel=%s): %s", _short_id(channel),
                        error.response.get("error"))

    async def _on_error(self, error: Exception, body: dict[str, Any]) -> BoltResponse:
        """The one place a Slack request fails: a request no listener takes is acknowledged; a handler
        that could not store the message gets a 503 (no ack in Socket Mode), so Slack redelivers it;
        anything else is logged with the request's ids and acknowledged, since a redelivery would fail
        the same way."""
        if isinstance(error, BoltUnhandledRequestError):
            log.debug("acknowledged a Slack request Rapport does not act on (%s)", _ids(body))
            return BoltResponse(status=200)
        if isinstance(error, _NotStored):
            log.error("slack turn failed (%s)", _ids(body), exc_info=error.__cause__)
            return BoltResponse(status=503, body="temporarily unavailable", headers={"Retry-After": "5"})
        log.error("slack request failed (%s)", _ids(body), exc_info=error)
        return BoltResponse(status=200)


def _is_direct(channel: str) -> bool:
    """A DM channel id: a private reply can be posted there normally."""
    return channel.startswith("D")


def _home_team(context: AsyncBoltContext) -> str:
    result = context.authorize_result
    return (result.team_id if result is not None else None) or ""


def web_client(settings: SlackPlatform) -> AsyncWebClient:
    """The Web API client for ``settings``: short waits on a 429, retries on connection and server errors."""
    return AsyncWebClient(
        token=settings.bot_token,
        base_url=api_base_url(settings),
        retry_handlers=[
            AsyncConnectionErrorRetryHandler(),
            _ShortRateLimitRetry(max_retry_count=RATE_LIMIT_RETRIES),
            _ServerErrorRetry(),
        ],
    )


def api_base_url(settings: SlackPlatform) -> str:
    """The Web API root: ``api_base_url`` from config (GovSlack, a proxy, a test fake) or slack.com."""
    base = settings.api_base_url or DEFAULT_API_BASE_URL
    return base if base.endswith("/") else base + "/"


class SlackDesk:
    """The agents' desk in an internal Slack channel: each handoff's summary opens a thread there."""

    def __init__(self, client: AsyncWebClient, channel: str) -> None:
        # The adapter's own client (see ``SlackAdapter(client=...)``): one token, one rate limit.
        self._client = client
        self._channel = channel

    async def announce(self, handoff: Any, summary: str) -> str:
        escaped = _escape(summary)
        response = await self._client.chat_postMessage(
            channel=self._channel,
            text=_fit(escaped, FALLBACK_TEXT_LIMIT),
            blocks=[
                {"type": "section", "text": {"type": "mrkdwn", "text": _fit(escaped, SECTION_LIMIT)}},
                {"type": "actions", "block_id": "rapport_desk", "elements": [
                    _button("Claim", f"{DESK_ACTION}_claim", str(handoff.id)),
                    _button("Resolve", f"{DESK_ACTION}_resolve", str(handoff.id)),
                ]},
            ],
        )
        return str(response["ts"])

    async def forward(self, handoff: Any, text: str) -> None:
        await self._post(handoff, f"Customer wrote: {text}")

    async def note(self, handoff: Any, text: str) -> None:
        await self._post(handoff, text)

    async def _post(self, handoff: Any, text: str) -> None:
        # Escaped: a customer's "<!channel>" must not ping the agents' channel.
        if handoff.desk_ref:
            await self._client.chat_postMessage(channel=self._channel, thread_ts=handoff.desk_ref,
                                                text=_fit(_escape(text), FALLBACK_TEXT_LIMIT))
