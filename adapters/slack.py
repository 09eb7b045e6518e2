"""Slack: DMs and @mentions over Socket Mode or the HTTP Events API, replies in Block Kit, in the thread.

Pure functions turn Slack payloads into engine types (:func:`event_to_inbound`, :func:`click_to_turn`)
and replies into Block Kit (:func:`reply_blocks`). :class:`SlackAdapter` wires them to slack-bolt's
async app: events are acknowledged first and answered after the ack; a retried event reaches the
engine again with the same message id (``channel:ts``), and the engine's durable inbox answers it
once. The Web API client waits out HTTP 429 (``Retry-After``) and retries.
"""

from __future__ import annotations

import asyncio
import html
import json
import logging
import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl

from slack_bolt.async_app import AsyncApp, AsyncBoltContext, AsyncBoltRequest
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncRateLimitErrorRetryHandler,
    AsyncServerErrorRetryHandler,
)
from slack_sdk.signature import SignatureVerifier
from slack_sdk.web.async_client import AsyncWebClient

from adapters.rendering import RenderedReply, render, render_plain, shorten, split_message
from bot.config import SlackPlatform
from bot.errors import ConfigError
from bot.types import (
    Attachment,
    ConversationKey,
    Feedback,
    FeedbackHandler,
    FeedbackKind,
    Inbound,
    MessageHandler,
    Reply,
)

__all__ = ["PLATFORM", "HttpAnswer", "SlackAdapter", "click_to_turn", "event_to_inbound", "reply_blocks"]

PLATFORM = "slack"
DEFAULT_API_BASE_URL = "https://slack.com/api/"
# Message subtypes that are a person writing; everything else (edits, deletions, joins, bots) is not.
PERSON_SUBTYPES = frozenset({None, "file_share", "thread_broadcast"})
SECTION_LIMIT = 3000  # characters in one section block
MAX_SECTIONS = 40  # a message holds at most 50 blocks
BUTTON_LABEL_LIMIT = 75
BUTTON_VALUE_LIMIT = 2000
FALLBACK_TEXT_LIMIT = 3900  # notification text; Slack truncates long `text` next to blocks anyway
SUGGEST_ACTION = "rapport_suggest"
FEEDBACK_ACTION = "rapport_feedback"
FEEDBACK_BLOCK = "rapport_feedback"
DESK_ACTION = "rapport_desk"
SUGGESTIONS_BLOCK = "rapport_suggestions"
RATE_LIMIT_RETRIES = 5

log = logging.getLogger("rapport.adapters.slack")


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
    if event.get("subtype") not in PERSON_SUBTYPES or event.get("bot_id") or event.get("bot_profile"):
        return None
    user, channel, ts = _text(event.get("user")), _text(event.get("channel")), _text(event.get("ts"))
    if not (user and channel and ts) or user == bot_user_id:
        return None
    text = _plain_text(event.get("text"), bot_user_id)
    attachments = _attachments(event.get("files"))
    if not text and not attachments:
        return None
    home = home_team or _envelope_team(body)
    user_team = _text(event.get("user_team")) or _text(event.get("team")) or home
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


@dataclass(frozen=True, slots=True)
class DeskMessage:
    """An agent's message in a handoff thread of the agents' channel (or a claim/resolve button)."""

    thread: str  # ts of the handoff summary: the handoff's desk reference
    agent: str
    text: str
    message_id: str


def desk_message(body: Mapping[str, Any], desk_channel: str, bot_user_id: str) -> DeskMessage | None:
    """A person's reply inside a thread of the desk channel; None for anything else (top-level
    chatter, edits, bots — including our own summaries and notes)."""
    event = body.get("event")
    if not desk_channel or not isinstance(event, Mapping) or event.get("type") != "message":
        return None
    if _text(event.get("channel")) != desk_channel:
        return None
    if event.get("subtype") not in PERSON_SUBTYPES or event.get("bot_id") or event.get("bot_profile"):
        return None
    user, ts, thread = _text(event.get("user")), _text(event.get("ts")), _text(event.get("thread_ts"))
    if not (user and ts and thread) or thread == ts or user == bot_user_id:
        return None
    text = _plain_text(event.get("text"), bot_user_id)
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
    user_id = _text(user.get("id"))
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
            in_reply_to=value,
            kind=kind,
            feedback_id=f"{user_id}:{action_ts}",
            received_at=_from_ts(action_ts),
        )
    return None


def _envelope_team(body: Mapping[str, Any]) -> str:
    authorizations = body.get("authorizations")
    if isinstance(authorizations, list) and authorizations and isinstance(authorizations[0], Mapping):
        team = _text(authorizations[0].get("team_id"))
        if team:
            return team
    return _text(body.get("team_id"))


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
            size=size if isinstance(size := f.get("size"), int) else 0,
        )
        for f in files
        if isinstance(f, Mapping)
    )


def _text(value: object) -> str:
    return value if isinstance(value, str) else ""


def _mapping(value: object) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _from_ts(ts: str) -> datetime:
    try:
        return datetime.fromtimestamp(float(ts), UTC)
    except ValueError:
        return datetime.now(UTC)


# --- reply → Block Kit ---------------------------------------------------------------------------


def reply_blocks(reply: Reply | RenderedReply) -> list[dict[str, Any]]:
    """The reply as Block Kit: the answer, a context block with its sources, suggestion buttons, 👍/👎."""
    rendered = reply if isinstance(reply, RenderedReply) else render(reply)
    blocks: list[dict[str, Any]] = [
        {"type": "section", "text": {"type": "mrkdwn", "text": _escape(piece)}}
        for piece in split_message(rendered.body, SECTION_LIMIT)[:MAX_SECTIONS]
    ]
    if rendered.sources:
        blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": _escape(rendered.sources)}]})
    if rendered.suggestions:
        blocks.append({
            "type": "actions",
            "block_id": SUGGESTIONS_BLOCK,
            "elements": [
                _button(b.label, f"{SUGGEST_ACTION}_{b.index}", b.value[:BUTTON_VALUE_LIMIT])
                for b in rendered.suggestions
            ],
        })
    if rendered.feedback and rendered.in_reply_to:
        blocks.append({
            "type": "actions",
            "block_id": FEEDBACK_BLOCK,
            "elements": [_button(b.label, f"{FEEDBACK_ACTION}_{b.value}", rendered.in_reply_to) for b in rendered.feedback],
        })
    return blocks


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
        {"type": "context", "block_id": block_id, "elements": [{"type": "mrkdwn", "text": note}]}
        if isinstance(b, Mapping) and b.get("block_id") == block_id
        else dict(b)
        for b in blocks
        if isinstance(b, Mapping)
    ]


# --- HTTP Events API: checks before bolt sees a request --------------------------------------------


@dataclass(frozen=True, slots=True)
class HttpAnswer:
    """A framework-free HTTP response: the web app turns it into its own type."""

    status: int
    body: str = ""
    headers: dict[str, str] = field(default_factory=dict)


def _parse_http_body(text: str, content_type: str) -> dict[str, Any] | None:
    """The request the way Slack sends it (JSON events, or a form with a JSON ``payload`` for clicks);
    None when it is not a well-formed Slack request."""
    try:
        if content_type.startswith("application/x-www-form-urlencoded"):
            form = dict(parse_qsl(text, keep_blank_values=True))
            data = json.loads(form["payload"]) if "payload" in form else form
        else:
            data = json.loads(text)
    except (ValueError, KeyError):
        return None
    if not isinstance(data, dict) or not isinstance(data.get("type"), str):
        return None
    for key in ("event", "team", "user", "channel", "container", "message", "enterprise"):
        if key in data and data[key] is not None and not isinstance(data[key], dict | str):
            return None
    if "event" in data and not (isinstance(data["event"], dict) and isinstance(data["event"].get("type"), str)):
        return None
    authorizations = data.get("authorizations")
    if authorizations is not None and not (
        isinstance(authorizations, list) and all(isinstance(a, dict) for a in authorizations)
    ):
        return None
    if data["type"] == "block_actions" and not (
        isinstance(data.get("actions"), list) and all(isinstance(a, dict) for a in data["actions"])
    ):
        return None
    return data


# --- the adapter ---------------------------------------------------------------------------------


class SlackAdapter:
    """Slack through slack-bolt's async app. ``start`` runs Socket Mode (mode: socket) or, in HTTP mode,
    checks the token and waits while the web app feeds :meth:`handle_http`."""

    platform = PLATFORM

    def __init__(self, settings: SlackPlatform) -> None:
        self._settings = settings
        self.client = AsyncWebClient(
            token=settings.bot_token,
            base_url=api_base_url(settings),
            retry_handlers=[
                AsyncConnectionErrorRetryHandler(),
                AsyncRateLimitErrorRetryHandler(max_retry_count=RATE_LIMIT_RETRIES),
                AsyncServerErrorRetryHandler(),
            ],
        )
        self.app = AsyncApp(
            name="rapport",
            client=self.client,
            signing_secret=settings.signing_secret,
            process_before_response=False,  # ack at once, answer after the ack
        )
        # Socket Mode needs no signing secret; without one every HTTP request is refused.
        self._verifier = SignatureVerifier(settings.signing_secret) if settings.signing_secret else None
        self._handler: MessageHandler | None = None
        self._feedback: FeedbackHandler | None = None
        self._stopped = asyncio.Event()
        self.app.event("app_mention")(self._on_event)
        self.app.event("message")(self._on_event)
        self.app.action(re.compile(rf"^({SUGGEST_ACTION}|{FEEDBACK_ACTION})_"))(self._on_click)
        self.app.action(re.compile(rf"^{DESK_ACTION}_(claim|resolve)$"))(self._on_desk_click)
        # Set by the composition root when the agents' desk is a Slack channel.
        self.desk_channel = ""
        self.desk_handler: Callable[[DeskMessage], Awaitable[None]] | None = None
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
        await socket.connect_async()
        try:
            await self._stopped.wait()
        finally:
            await socket.close_async()

    async def stop(self) -> None:
        self._stopped.set()

    async def send(self, reply: Reply) -> None:
        """Post the reply in the conversation's thread as Block Kit, with plain text for notifications."""
        rendered = render(reply)
        await self.client.chat_postMessage(
            channel=reply.conversation.channel,
            thread_ts=reply.conversation.thread or None,
            text=render_plain(rendered)[:FALLBACK_TEXT_LIMIT],
            blocks=reply_blocks(rendered),
            unfurl_links=False,
            unfurl_media=False,
        )

    async def handle_http(self, body: bytes, headers: Mapping[str, str], query: str = "") -> HttpAnswer:
        """One POST to /slack/events: signature and timestamp checked first (401), malformed bodies
        rejected (400), then bolt acknowledges and the answer is posted after the ack."""
        if self._handler is None:
            return HttpAnswer(503, "not started", {"Retry-After": "1"})
        lowered = {k.lower(): v for k, v in headers.items()}
        if not self._signed(body, lowered):
            return HttpAnswer(401, "invalid signature or stale timestamp")
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            return HttpAnswer(400, "body is not UTF-8")
        if _parse_http_body(text, lowered.get("content-type", "")) is None:
            return HttpAnswer(400, "not a Slack event or interaction payload")
        try:
            request = AsyncBoltRequest(body=text, query=query, headers=dict(lowered))
        except (ValueError, TypeError, KeyError, AttributeError, IndexError) as error:
            log.warning("rejected a malformed Slack request: %s", error)
            return HttpAnswer(400, "malformed Slack payload")
        response = await self.app.async_dispatch(request)
        return HttpAnswer(response.status, response.body or "", {k: v[0] for k, v in response.headers.items() if v})

    def _signed(self, body: bytes, headers: Mapping[str, str]) -> bool:
        if self._verifier is None:
            return False
        try:
            return self._verifier.is_valid(
                body, headers.get("x-slack-request-timestamp"), headers.get("x-slack-signature")
            )
        except ValueError:  # a timestamp that is not a number
            return False

    # listeners: bolt calls them after the ack

    async def _on_event(self, body: dict[str, Any], context: AsyncBoltContext) -> None:
        if self.desk_handler is not None:
            agent_says = desk_message(body, self.desk_channel, context.bot_user_id or "")
            if agent_says is not None:
                await self.desk_handler(agent_says)
                return
        inbound = event_to_inbound(body, context.bot_user_id or "", _home_team(context))
        if inbound is None:
            return
        await self._answer(inbound)

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
                await self._feedback(turn)
            await self._replace_buttons(channel, message, FEEDBACK_BLOCK, "Thanks for the feedback!")

    async def _on_desk_click(self, ack: Any, body: dict[str, Any]) -> None:
        await ack()
        actions = body.get("actions") or [{}]
        verb = _text(actions[0].get("action_id")).rsplit("_", 1)[-1]
        message, user = _mapping(body.get("message")), _text(_mapping(body.get("user")).get("id"))
        thread = _text(message.get("ts"))
        if self.desk_handler is not None and thread and user:
            click_id = _text(body.get("trigger_id")) or f"{thread}:{user}:{verb}"
            await self.desk_handler(DeskMessage(thread, user, verb, f"click:{click_id}"))

    async def _answer(self, inbound: Inbound) -> None:
        assert self._handler is not None, "SlackAdapter used before start() or bind()"
        reply = await self._handler(inbound)
        if reply is not None:
            await self.send(reply)

    async def _replace_buttons(self, channel: str, message: Mapping[str, Any], block_id: str, note: str) -> None:
        blocks = _after_click(message.get("blocks"), block_id, note)
        if channel and blocks is not None and isinstance(message.get("ts"), str):
            await self.client.chat_update(channel=channel, ts=message["ts"], blocks=blocks, text=_text(message.get("text")))

    async def _on_error(self, error: Exception, body: dict[str, Any]) -> None:
        event = _mapping(body.get("event"))
        log.error(
            "slack turn failed (type=%s event=%s team=%s channel=%s ts=%s)",
            body.get("type"), event.get("type"), body.get("team_id"), event.get("channel"), event.get("ts"),
            exc_info=error,
        )


def _home_team(context: AsyncBoltContext) -> str:
    result = context.authorize_result
    return (result.team_id if result is not None else None) or ""


def api_base_url(settings: SlackPlatform) -> str:
    """The Web API root: ``api_base_url`` from config (GovSlack, a proxy, a test fake) or slack.com."""
    base = settings.api_base_url or DEFAULT_API_BASE_URL
    return base if base.endswith("/") else base + "/"


class SlackDesk:
    """The agents' desk in an internal Slack channel: each handoff's summary opens a thread there."""

    def __init__(self, adapter: SlackAdapter, channel: str) -> None:
        self._client = adapter.client
        self._channel = channel

    async def announce(self, handoff: Any, summary: str) -> str:
        response = await self._client.chat_postMessage(
            channel=self._channel,
            text=summary[:FALLBACK_TEXT_LIMIT],
            blocks=[
                {"type": "section", "text": {"type": "mrkdwn", "text": _escape(summary)[:2900]}},
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
        if handoff.desk_ref:
            await self._client.chat_postMessage(channel=self._channel, thread_ts=handoff.desk_ref,
                                                text=text[:FALLBACK_TEXT_LIMIT])
