"""Telegram: private chats always, groups when the bot is mentioned or replied to; long polling or webhook.

Pure functions read the Bot API's JSON (:func:`update_to_inbound`, :func:`callback_to_turn`) and lay a
reply out as messages with an inline keyboard (:func:`reply_messages`). Replies are sent as plain text
(no parse mode, so nothing needs escaping) and split at paragraph or line boundaries when they pass
Telegram's 4,096-character limit; the keyboard rides on the last piece. The same message delivered
twice (a redelivered update, a restart) keeps its id ``chat:message`` and is answered once by the engine.

Authenticated junk never costs a 5xx: an update python-telegram-bot cannot read (a ``date`` past year
9999, a string where an object belongs, nesting deep enough to exhaust the parser) is logged by id and
dropped with a 200 on the webhook, and replaced by an empty update of the same id when polling, so the
poller moves past it. The one deliberate 5xx is a handler that failed to store the message: Telegram
then redelivers it. Messages the bot cannot read (stickers, locations, voice notes…) get one short
explanation per chat and cooldown, not silence and not one per sticker in a burst.

:meth:`TelegramAdapter.send` raises :class:`~bot.errors.DeliveryFailed` unless Telegram accepted every
part; a retried reply (same ``delivery_key``) skips the parts already accepted, since Telegram has no
idempotency key of its own. It returns the first message's id (``chat:message``); a reply that was
streamed edits its placeholder (``editMessageText``) into its first piece, and posts it after all when the
placeholder is gone. A 👍/👎 reaction (a ``message_reaction`` update, which the bot asks for in
``allowed_updates``) becomes Feedback on the message it was put on (:func:`reaction_to_feedback`).
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import re
import time
import warnings
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from telegram import (
    Bot,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InputFile,
    LinkPreviewOptions,
    Message,
    ReplyParameters,
    Update,
)
from telegram.error import (
    BadRequest,
    ChatMigrated,
    EndPointNotFound,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
    TelegramError,
)
from telegram.ext import Application, ApplicationBuilder, ContextTypes, TypeHandler
from telegram.request import HTTPXRequest
from telegram.warnings import PTBDeprecationWarning

from adapters.rendering import ButtonAction, decode_click, encode_click, render, split_message
from bot.config import TelegramPlatform
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
)

__all__ = [
    "PLATFORM",
    "ButtonClick",
    "OutgoingMessage",
    "TelegramAdapter",
    "UnreadableMessage",
    "WebhookAnswer",
    "callback_to_turn",
    "read_update",
    "readable",
    "reaction_to_feedback",
    "reply_messages",
    "unreadable_message",
    "update_to_inbound",
]

PLATFORM = "telegram"
DEFAULT_API_BASE_URL = "https://api.telegram.org"
MESSAGE_LIMIT = 4096
CAPTION_LIMIT = 1024
CALLBACK_DATA_LIMIT = 64  # bytes
SECRET_HEADER = "x-telegram-bot-api-secret-token"
ALLOWED_UPDATES = ("message", "callback_query", "message_reaction")
# Reactions that rate a reply; skin-tone and variation modifiers are dropped before the lookup.
REACTIONS = {"👍": FeedbackKind.HELPFUL, "👎": FeedbackKind.NOT_HELPFUL}
_EMOJI_MODIFIERS = re.compile("[\U0001F3FB-\U0001F3FF\uFE0F]")
# What Telegram answers when a placeholder cannot be edited (deleted, too old): the reply is posted instead.
UNEDITABLE = ("message to edit not found", "message can't be edited", "message_id_invalid")
SEND_ATTEMPTS = 3
# Flood control shorter than this is waited out inside send (a retry of the whole reply would repeat the
# parts already sent); longer waits go back to the outbox as DeliveryFailed(retry_after=...).
INLINE_WAIT_LIMIT = 5.0
GROUP_CHATS = frozenset({"group", "supergroup"})
# Kinds of message the bot cannot read at all, and kinds it can read only through their caption.
UNREADABLE_KINDS = ("sticker", "contact", "venue", "location", "poll", "dice", "game", "story", "paid_media")
CAPTION_ONLY_KINDS = ("voice", "video_note", "audio", "animation")
NOTICE_COOLDOWN = 600.0  # seconds between two "I can't read that" notes in one chat
UNREADABLE_NOTICE = ("Sorry, I can't read that kind of message. I understand text, and photos or files "
                     "with a caption. Type your question, or type \"human\" to reach a person.")
PRIVATE_CHAT_NOTICE = ("I have an answer for you that only you should see, but I can't message you privately "
                       "yet. Please open a private chat with me{link}, press Start, then ask me again there.")
MAX_TIMESTAMP = 253402300799  # 9999-12-31T23:59:59Z, the last second datetime can hold

log = logging.getLogger("rapport.adapters.telegram")


# --- payload → engine types ----------------------------------------------------------------------


def update_to_inbound(update: Mapping[str, Any], bot_id: int, bot_username: str) -> Inbound | None:
    """A Bot API update (the JSON Telegram sends) as an Inbound; None unless it is a new message a
    customer wrote to the bot: private chats always, groups only when @mentioned or replying to the bot.
    Edits, channel posts and other bots' messages are ignored, and so are voice notes, audio, video notes
    and animations without a caption (see :func:`unreadable_message`). ``/start CODE`` passes through."""
    message = _customer_message(update, bot_id)
    if message is None:
        return None
    chat, sender = message["chat"], message["from"]
    text = _text(message)
    if not _addressed(message, text, bot_id, bot_username):
        return None
    if not text and _kind(message) in CAPTION_ONLY_KINDS:
        return None
    text = _without_mention(text, bot_username)
    attachments = _attachments(message)
    if not text and not attachments:
        return None
    return Inbound(
        platform=PLATFORM,
        conversation=_conversation(bot_id, chat["id"], message),
        user_id=str(sender["id"]),
        display_name=_name(sender),
        text=text,
        message_id=f"{chat['id']}:{message['message_id']}",
        received_at=_timestamp(message.get("date")),
        attachments=attachments,
        raw=update,
    )


@dataclass(frozen=True, slots=True)
class UnreadableMessage:
    """A message to the bot that it cannot read (a sticker, a location, a voice note without caption…)."""

    chat_id: int
    thread: int | None
    message_id: int
    kind: str
    in_group: bool


def unreadable_message(update: Mapping[str, Any], bot_id: int, bot_username: str) -> UnreadableMessage | None:
    """A new message a customer sent the bot that it cannot read: stickers, contacts, locations, venues,
    polls, dice, and voice notes, audio, video notes or animations without a caption. In groups only when
    it is addressed to the bot (a reply to it). None for anything else."""
    message = _customer_message(update, bot_id)
    if message is None:
        return None
    kind = _kind(message)
    text = _text(message)
    if not (kind in UNREADABLE_KINDS or (kind in CAPTION_ONLY_KINDS and not text)):
        return None
    if not _addressed(message, text, bot_id, bot_username):
        return None
    thread = message.get("message_thread_id") if message.get("is_topic_message") else None
    return UnreadableMessage(message["chat"]["id"], _id(thread), message["message_id"], kind,
                             message["chat"].get("type") in GROUP_CHATS)


def callback_to_turn(update: Mapping[str, Any], bot_id: int) -> Inbound | Feedback | None:
    """A click on one of our inline buttons: a suggestion becomes the customer's next message in that
    chat, 👍/👎 becomes Feedback. None for unknown or stale buttons."""
    query = update.get("callback_query")
    if not isinstance(query, Mapping):
        return None
    sender, message, data, query_id = query.get("from"), query.get("message"), query.get("data"), query.get("id")
    if not (isinstance(sender, Mapping) and isinstance(message, Mapping)
            and isinstance(data, str) and isinstance(query_id, str)):
        return None
    chat = message.get("chat")
    chat_id, user_id = _id(chat.get("id") if isinstance(chat, Mapping) else None), _id(sender.get("id"))
    if chat_id is None or user_id is None or sender.get("is_bot") or user_id == bot_id:
        return None
    click = decode_click(data)
    if click is None:
        return None
    conversation = _conversation(bot_id, chat_id, message)
    if click.action is ButtonAction.FEEDBACK:
        assert click.kind is not None
        return Feedback(
            platform=PLATFORM,
            conversation=conversation,
            user_id=str(user_id),
            in_reply_to=click.in_reply_to,
            kind=click.kind,
            feedback_id=query_id,
        )
    text = click.text or _button_label(message, data)
    if not text:
        return None
    return Inbound(
        platform=PLATFORM,
        conversation=conversation,
        user_id=str(user_id),
        display_name=_name(sender),
        text=text,
        message_id=f"{chat_id}:cb:{query_id}",
        raw=update,
    )


def reaction_to_feedback(update: Mapping[str, Any], bot_id: int) -> Feedback | None:
    """A ``message_reaction`` update as Feedback on the message it was put on (``reacted_to`` is
    ``chat:message``, as :meth:`TelegramAdapter.send` returns it): the first 👍 or 👎 the user added (in
    ``new_reaction``, not already in ``old_reaction``). None for other emoji, removed reactions, anonymous
    reactions (a chat, not a user) and bots. ``feedback_id`` is the same for the same (user, message, emoji)."""
    reaction = update.get("message_reaction")
    if not isinstance(reaction, Mapping):
        return None
    chat, user = reaction.get("chat"), reaction.get("user")
    chat_id = _id(chat.get("id")) if isinstance(chat, Mapping) else None
    user_id = _id(user.get("id")) if isinstance(user, Mapping) else None
    message_id = _id(reaction.get("message_id"))
    if chat_id is None or user_id is None or message_id is None or user_id == bot_id:
        return None
    if isinstance(user, Mapping) and user.get("is_bot"):
        return None
    before = {_emoji(r) for r in _list(reaction.get("old_reaction"))}
    added = [kind for r in _list(reaction.get("new_reaction"))
             if (emoji := _emoji(r)) not in before and (kind := REACTIONS.get(emoji)) is not None]
    if not added:
        return None
    kind = added[0]
    return Feedback(
        platform=PLATFORM,
        conversation=ConversationKey(PLATFORM, str(bot_id), str(chat_id), ""),  # the delivery sets the reply's own
        user_id=str(user_id),
        in_reply_to="",
        kind=kind,
        feedback_id=f"reaction:{user_id}:{chat_id}:{message_id}:{kind.value}",
        reacted_to=f"{chat_id}:{message_id}",
        received_at=_timestamp(reaction.get("date")),
    )


def _emoji(reaction: object) -> str:
    if not isinstance(reaction, Mapping) or reaction.get("type") != "emoji":
        return ""
    return _EMOJI_MODIFIERS.sub("", _str(reaction.get("emoji")))


def _list(value: object) -> list[Any]:
    return value if isinstance(value, list) else []


@dataclass(frozen=True, slots=True)
class ButtonClick:
    """A callback query: its id (always answered, to stop the client's spinner) and what the click means."""

    query_id: str
    turn: Inbound | Feedback | None


def read_update(update: Mapping[str, Any], bot_id: int, bot_username: str
                ) -> Inbound | UnreadableMessage | ButtonClick | Feedback | None:
    """What one update asks of the bot: a message to answer, an unreadable message to explain, a button
    click, a 👍/👎 reaction, or nothing (edits, channel posts, member changes, inline queries, payments…)."""
    if "message_reaction" in update:
        return reaction_to_feedback(update, bot_id)
    inbound = update_to_inbound(update, bot_id, bot_username)
    if inbound is not None:
        return inbound
    unreadable = unreadable_message(update, bot_id, bot_username)
    if unreadable is not None:
        return unreadable
    query = update.get("callback_query")
    query_id = _str(query.get("id")) if isinstance(query, Mapping) else ""
    return ButtonClick(query_id, callback_to_turn(update, bot_id)) if query_id else None


def readable(update: Mapping[str, Any], bot: Bot) -> bool:
    """Whether python-telegram-bot can read this update at all. Whatever its reading raises
    (OverflowError for a date past 9999, TypeError for a string where an object belongs, RecursionError
    for absurd nesting…) means the update can never be read: redelivering it cannot help."""
    try:
        Update.de_json(dict(update), bot)
    except Exception:  # noqa: BLE001 - see the docstring: any failure here is the same verdict
        return False
    return True


def _customer_message(update: Mapping[str, Any], bot_id: int) -> Mapping[str, Any] | None:
    """The update's new message when it has the ids a reply needs and a person (not a bot) wrote it."""
    message = update.get("message")
    if not isinstance(message, Mapping):
        return None
    chat, sender = message.get("chat"), message.get("from")
    if not isinstance(chat, Mapping) or not isinstance(sender, Mapping):
        return None
    user_id = _id(sender.get("id"))
    if _id(chat.get("id")) is None or user_id is None or _id(message.get("message_id")) is None:
        return None
    if sender.get("is_bot") or user_id == bot_id:
        return None
    return message


def _addressed(message: Mapping[str, Any], text: str, bot_id: int, bot_username: str) -> bool:
    """Private chats always; groups only when the bot is mentioned or replied to; no other chat type."""
    chat_type = message["chat"].get("type")
    if chat_type in GROUP_CHATS:
        return _mentions(message, text, bot_id, bot_username) or _replies_to(message, bot_id)
    return chat_type == "private"


def _text(message: Mapping[str, Any]) -> str:
    text = message.get("text") if isinstance(message.get("text"), str) else message.get("caption")
    return text if isinstance(text, str) else ""


def _kind(message: Mapping[str, Any]) -> str:
    """What the message carries beyond text, by its first telling field ("" for plain text or a photo)."""
    for key in (*UNREADABLE_KINDS, *CAPTION_ONLY_KINDS):
        if message.get(key) is not None:
            return key
    return ""


def _conversation(bot_id: int, chat_id: int, message: Mapping[str, Any]) -> ConversationKey:
    thread = _id(message.get("message_thread_id")) if message.get("is_topic_message") else None
    return ConversationKey(PLATFORM, str(bot_id), str(chat_id), str(thread) if thread is not None else "")


def _timestamp(value: object) -> datetime:
    """A Bot API date (Unix seconds) as a datetime; now when it is missing or out of datetime's range."""
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= MAX_TIMESTAMP:
        return datetime.fromtimestamp(value, UTC)
    return datetime.now(UTC)


def _id(value: object) -> int | None:
    """An integer id (never a bool, which Python counts as an int)."""
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _mentions(message: Mapping[str, Any], text: str, bot_id: int, bot_username: str) -> bool:
    if bot_username and re.search(rf"@{re.escape(bot_username)}\b", text, re.IGNORECASE):
        return True
    entities = message.get("entities") or message.get("caption_entities") or []
    return any(
        isinstance(e, Mapping) and e.get("type") == "text_mention"
        and isinstance(e.get("user"), Mapping) and e["user"].get("id") == bot_id
        for e in (entities if isinstance(entities, list) else [])
    )


def _replies_to(message: Mapping[str, Any], bot_id: int) -> bool:
    replied = message.get("reply_to_message")
    author = replied.get("from") if isinstance(replied, Mapping) else None
    return isinstance(author, Mapping) and author.get("id") == bot_id


def _without_mention(text: str, bot_username: str) -> str:
    if bot_username:
        # "/start@rapport_bot CODE" → "/start CODE"; "@rapport_bot hi" → "hi"
        text = re.sub(rf"^(/\w+)@{re.escape(bot_username)}\b", r"\1", text, flags=re.IGNORECASE)
        text = re.sub(rf"@{re.escape(bot_username)}\b", "", text, flags=re.IGNORECASE)
    return re.sub(r"[ \t]{2,}", " ", text).strip()


def _attachments(message: Mapping[str, Any]) -> tuple[Attachment, ...]:
    found = []
    photos = message.get("photo")
    if isinstance(photos, list) and photos and isinstance(photos[-1], Mapping):
        largest = photos[-1]  # Telegram lists sizes smallest first
        found.append(Attachment("photo.jpg", "image/jpeg", size=_int(largest.get("file_size"))))
    for key, default_type in (("document", "application/octet-stream"), ("video", "video/mp4"),
                              ("audio", "audio/mpeg"), ("voice", "audio/ogg")):
        item = message.get(key)
        if isinstance(item, Mapping):
            name, mime = _str(item.get("file_name")) or key, _str(item.get("mime_type")) or default_type
            found.append(Attachment(name, mime, size=_int(item.get("file_size"))))
    return tuple(found)


def _button_label(message: Mapping[str, Any], data: str) -> str:
    markup = message.get("reply_markup")
    rows = markup.get("inline_keyboard") if isinstance(markup, Mapping) else None
    for row in rows if isinstance(rows, list) else []:
        for button in row if isinstance(row, list) else []:
            if isinstance(button, Mapping) and button.get("callback_data") == data:
                return _str(button.get("text"))
    return ""


def _name(user: Mapping[str, Any]) -> str:
    parts = [user.get("first_name"), user.get("last_name")]
    name = " ".join(p for p in parts if isinstance(p, str) and p)
    return name or _str(user.get("username"))


def _int(value: object) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _str(value: object) -> str:
    return value if isinstance(value, str) else ""


# --- reply → messages ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class OutgoingMessage:
    """One sendMessage: plain text and, on the last piece of a reply, rows of (label, callback data)."""

    text: str
    keyboard: tuple[tuple[tuple[str, str], ...], ...] = ()


def reply_messages(reply: Reply) -> list[OutgoingMessage]:
    """The reply as Telegram messages: text split at 4,096 characters, suggestion buttons one per row
    and 👍/👎 side by side under the last piece."""
    rendered = render(reply)
    pieces = split_message(rendered.text, MESSAGE_LIMIT) or ["…"]
    rows: list[tuple[tuple[str, str], ...]] = []
    for button in rendered.suggestions:
        data = encode_click(button, rendered.in_reply_to, CALLBACK_DATA_LIMIT)
        if data is not None:
            rows.append(((button.label, data),))
    feedback = tuple(
        (button.label, data)
        for button in rendered.feedback
        if (data := encode_click(button, rendered.in_reply_to, CALLBACK_DATA_LIMIT)) is not None
    )
    if feedback:
        rows.append(feedback)
    return [OutgoingMessage(p) for p in pieces[:-1]] + [OutgoingMessage(pieces[-1], tuple(rows))]


# --- the adapter ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class WebhookAnswer:
    """A framework-free HTTP response: the web app turns it into its own type."""

    status: int
    body: str = ""


class TolerantUpdatesRequest(HTTPXRequest):
    """The request object for ``getUpdates``: an update python-telegram-bot cannot read is replaced by an
    empty update with the same id. Otherwise its parse error fails the whole batch, the poller never
    confirms it, and it is fetched (and fails) again forever; with the stub the offset moves past it.
    ``post`` is the documented place to change what a request returns."""

    def __init__(self, bot: Callable[[], Bot | None], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._bot = bot

    async def post(self, url: str, request_data: Any = None, **timeouts: Any) -> Any:
        result = await super().post(url, request_data, **timeouts)
        bot = self._bot()
        if not url.endswith("/getUpdates") or not isinstance(result, list) or bot is None:
            return result
        return [_readable_or_stub(update, bot) for update in result]


def _readable_or_stub(update: Any, bot: Bot) -> Any:
    if isinstance(update, dict) and readable(update, bot):
        return update
    update_id = update.get("update_id") if isinstance(update, dict) else None
    log.warning("dropped a Telegram update nothing can read (update_id=%s)", update_id)
    return {"update_id": update_id}


class TelegramAdapter:
    """Telegram through python-telegram-bot. ``start`` long-polls (mode: polling) or, in webhook mode,
    registers ``webhook_url`` when set and waits while the web app feeds :meth:`handle_webhook`."""

    platform = PLATFORM

    def __init__(self, settings: TelegramPlatform) -> None:
        self._settings = settings
        self._handler: MessageHandler | None = None
        self._feedback: FeedbackHandler | None = None
        self._application: Application | None = None
        self._ready = asyncio.Event()
        self._stopped = asyncio.Event()
        # Parts of a reply Telegram already accepted, by delivery_key, so a retry sends only the rest.
        self._accepted: OrderedDict[str, int] = OrderedDict()
        self._noticed: dict[str, float] = {}  # chat (and topic) → when it was last told what the bot reads

    @property
    def mode(self) -> str:
        return self._settings.mode

    @property
    def bot(self) -> Bot:
        if self._application is None:
            raise RuntimeError("TelegramAdapter used before start()")
        return self._application.bot

    def _build(self) -> Application:
        base = (self._settings.api_base_url or DEFAULT_API_BASE_URL).rstrip("/")
        builder = (
            ApplicationBuilder()
            .token(self._settings.bot_token)
            .base_url(f"{base}/bot")
            .base_file_url(f"{base}/file/bot")
            # Turns of different chats run side by side; the engine serializes each conversation.
            .concurrent_updates(16)
        )
        if self.mode == "webhook":
            builder = builder.updater(None)
        else:
            # Long polling holds the connection up to ``timeout`` seconds, hence PTB's defaults for it.
            builder = builder.get_updates_request(TolerantUpdatesRequest(
                lambda: self._application.bot if self._application else None,
                connection_pool_size=1, read_timeout=5.0,
            ))
        application = builder.build()
        application.add_handler(TypeHandler(Update, self._on_update))
        application.add_error_handler(self._on_error)
        return application

    async def start(self, handler: MessageHandler, feedback: FeedbackHandler | None = None) -> None:
        self._handler, self._feedback = handler, feedback
        self._application = application = self._build()
        try:
            await self._run(application)
        except InvalidToken as error:
            raise ConfigError("Telegram rejected platforms.telegram.bot_token",
                              fix="set TELEGRAM_BOT_TOKEN to the token @BotFather gave you") from error

    async def _run(self, application: Application) -> None:
        async with application:  # initialize (getMe) … shutdown
            log.info("telegram connected as @%s (%s mode)", application.bot.username, self.mode)
            if self.mode == "polling":
                assert application.updater is not None
                await application.start()
                await application.updater.start_polling(allowed_updates=list(ALLOWED_UPDATES))
            elif self._settings.webhook_url:
                await application.bot.set_webhook(
                    self._settings.webhook_url, secret_token=self._settings.webhook_secret,
                    allowed_updates=list(ALLOWED_UPDATES),
                )
            self._ready.set()
            try:
                await self._stopped.wait()
            finally:
                self._ready.clear()
                if self.mode == "polling":
                    assert application.updater is not None
                    await application.updater.stop()
                    await application.stop()

    async def stop(self) -> None:
        self._stopped.set()

    async def handle_webhook(self, body: bytes, headers: Mapping[str, str]) -> WebhookAnswer:
        """One POST to /telegram/webhook. 403 for a wrong or missing secret token (compared in constant
        time), 400 for a body that is not a JSON update at all. An authentic update nothing can read is
        logged by id and acknowledged (200): a 5xx would have Telegram redeliver it forever. Otherwise the
        200 comes once the handler has taken the message; if the handler fails, the error propagates and
        the web app answers 503, so Telegram redelivers it."""
        lowered = {k.lower(): v for k, v in headers.items()}
        given = lowered.get(SECRET_HEADER, "")
        expected = self._settings.webhook_secret
        if not expected or not hmac.compare_digest(given.encode("utf-8"), expected.encode("utf-8")):
            return WebhookAnswer(403, "wrong or missing secret token")
        try:
            data = json.loads(body)
        except RecursionError:
            log.warning("dropped a Telegram update nested too deeply to parse (%d bytes)", len(body))
            return WebhookAnswer(200)
        except ValueError:
            return WebhookAnswer(400, "body is not JSON")
        update_id = data.get("update_id") if isinstance(data, dict) else None
        if _id(update_id) is None:
            return WebhookAnswer(400, "not a Telegram update")
        try:
            await asyncio.wait_for(self._ready.wait(), timeout=10)
        except TimeoutError:
            return WebhookAnswer(503, "starting")
        # The SDK's own reading of the update is the schema: required fields present, types right.
        if not readable(data, self.bot):
            log.warning("dropped a Telegram update nothing can read (update_id=%s)", update_id)
            return WebhookAnswer(200)
        await self._process(data, deliver_errors=False)
        return WebhookAnswer(200)

    async def send(self, reply: Reply) -> str | None:
        """Send the reply as plain-text messages, then its files as documents, in its chat (and forum
        topic); in groups the first piece quotes the customer's message. A private reply asked in a group
        goes to the customer's private chat; when the customer never started one with the bot, the group
        gets a short note asking them to (never the private content). A reply with ``edit_message`` (its
        streamed placeholder) edits that message into its first piece. Raises DeliveryFailed unless
        Telegram accepted every part; returns the first message's ``chat:message`` (None when it was sent
        by an earlier attempt)."""
        target = _target(reply)
        parts = self._parts(reply, target)
        try:
            return await self._send_parts(reply.delivery_key, parts)
        except DeliveryFailed as error:
            if target.redirected and isinstance(error.__cause__, Forbidden):
                await self._ask_for_private_chat(reply)
            raise

    def _parts(self, reply: Reply, target: _Target) -> list[Callable[[], Awaitable[Any]]]:
        """Every Bot API call the reply takes, in order: text pieces, then one document per file."""
        parts: list[Callable[[], Awaitable[Any]]] = []
        for i, outgoing in enumerate(reply_messages(reply)):
            quoted = target.quoted if i == 0 else None
            if i == 0 and reply.edit_message and not target.redirected:
                parts.append(lambda o=outgoing: self._edit_or_send(reply.edit_message, target, o))
                continue
            parts.append(lambda o=outgoing, q=quoted: self._send_text(target, o, q))
        for file in reply.files:
            parts.append(lambda f=file: self._send_document(target, f))
        return parts

    async def _send_parts(self, delivery_key: str, parts: list[Callable[[], Awaitable[Any]]]) -> str | None:
        done = self._accepted.get(delivery_key, 0) if delivery_key else 0
        first: str | None = None
        for i, part in enumerate(parts[done:], start=done):
            sent = await self._call(part)
            if i == 0:
                first = sent if isinstance(sent, str) else (
                    f"{sent.chat.id}:{sent.message_id}" if isinstance(sent, Message) else None)
            if delivery_key:
                self._remember(delivery_key, i + 1)
        return first

    async def _edit_or_send(self, placeholder: str, target: _Target, outgoing: OutgoingMessage) -> Any:
        """The first piece written over the streamed placeholder (with its keyboard); sent as a new
        message when the placeholder is gone."""
        chat, _, message = placeholder.rpartition(":")
        try:
            edited = await self.bot.edit_message_text(outgoing.text, chat_id=int(chat), message_id=int(message),
                                                      reply_markup=_markup(outgoing),
                                                      link_preview_options=LinkPreviewOptions(is_disabled=True))
        except BadRequest as error:
            reason = str(error).lower()
            if "not modified" in reason:
                return placeholder  # it shows exactly this already
            if not any(word in reason for word in UNEDITABLE):
                raise
            log.info("telegram placeholder %s is gone; sending the reply", message)
            return await self._send_text(target, outgoing, target.quoted)
        return edited if isinstance(edited, Message) else placeholder

    # --- streaming: a placeholder edited as checked sentences arrive (bot/llm/stream.py) ---

    async def post_placeholder(self, conversation: ConversationKey, text: str) -> str:
        """Send the first streamed sentences in the conversation's chat (and topic); ``chat:message``."""
        thread = int(conversation.thread) if conversation.thread else None
        sent = await self.bot.send_message(int(conversation.channel), text[:MESSAGE_LIMIT], message_thread_id=thread,
                                           link_preview_options=LinkPreviewOptions(is_disabled=True))
        return f"{sent.chat.id}:{sent.message_id}"

    async def edit_placeholder(self, conversation: ConversationKey, message: str, text: str) -> None:
        chat, _, message_id = message.rpartition(":")
        try:
            await self.bot.edit_message_text(text[:MESSAGE_LIMIT], chat_id=int(chat), message_id=int(message_id),
                                             link_preview_options=LinkPreviewOptions(is_disabled=True))
        except BadRequest as error:
            if "not modified" not in str(error).lower():
                raise

    def _remember(self, delivery_key: str, accepted: int) -> None:
        self._accepted[delivery_key] = accepted
        self._accepted.move_to_end(delivery_key)
        while len(self._accepted) > 4096:  # a retry comes within minutes; older entries are done with
            self._accepted.popitem(last=False)

    async def _send_text(self, target: _Target, outgoing: OutgoingMessage, quoted: int | None) -> Any:
        markup = _markup(outgoing)
        return await self.bot.send_message(
            target.chat_id,
            outgoing.text,
            message_thread_id=target.thread,
            reply_parameters=ReplyParameters(quoted, allow_sending_without_reply=True) if quoted else None,
            reply_markup=markup,
            link_preview_options=LinkPreviewOptions(is_disabled=True),
        )

    async def _send_document(self, target: _Target, file: OutboundFile) -> Any:
        # A real upload (multipart), so the customer gets the file itself, named as the engine named it.
        document = InputFile(file.content.encode("utf-8"), filename=file.name)
        return await self.bot.send_document(target.chat_id, document, message_thread_id=target.thread)

    async def _ask_for_private_chat(self, reply: Reply) -> None:
        """In the group, a note that carries nothing private: open a private chat with the bot and ask again."""
        username = self.bot.username
        text = PRIVATE_CHAT_NOTICE.format(link=f" (https://t.me/{username})" if username else "")
        group = _Target(int(reply.conversation.channel), _thread(reply), _quoted_message(reply), False)
        try:
            await self._call(lambda: self._send_text(group, OutgoingMessage(text), group.quoted))
        except DeliveryFailed:
            log.warning("could not ask for a private chat in Telegram chat %s", group.chat_id, exc_info=True)

    async def _on_update(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        await self._process(update.to_dict(), deliver_errors=True)

    async def _process(self, data: Mapping[str, Any], *, deliver_errors: bool) -> None:
        """Hand one update to the handler (its errors propagate: the message was not taken) and send what it
        returns. ``deliver_errors``: let a failed send propagate too (polling: to the error handler); on the
        webhook it is logged instead, since the handler already stored the message and a 5xx would only
        have Telegram redeliver a message that is already taken."""
        assert self._handler is not None, "TelegramAdapter used before start()"
        me = self.bot
        try:
            event = read_update(data, me.id, me.username or "")
        except Exception:  # a bug in our reading, not in the update: logged, and the update dropped
            log.exception("could not read Telegram update %s", data.get("update_id"))
            return
        match event:
            case Inbound():
                await self._answer(event, deliver_errors)
            case UnreadableMessage():
                await self._explain(event)
            case Feedback():
                if self._feedback is not None:
                    await self._feedback(event)
            case ButtonClick(query_id, Feedback() as feedback):
                if self._feedback is not None:
                    await self._feedback(feedback)
                await self._acknowledge(query_id, "Thanks for the feedback!")
            case ButtonClick(query_id, Inbound() as turn):
                await self._acknowledge(query_id)
                await self._answer(turn, deliver_errors)
            case ButtonClick(query_id, None):
                await self._acknowledge(query_id)  # a button we no longer know: stop the spinner all the same

    async def _answer(self, inbound: Inbound, deliver_errors: bool) -> None:
        assert self._handler is not None
        reply = await self._handler(inbound)
        if reply is None:
            return
        try:
            await self.send(reply)
        except DeliveryFailed as error:
            if deliver_errors:
                raise
            log.error("telegram reply to %s not delivered (permanent=%s): %s", inbound.message_id,
                      error.permanent, error.message)

    async def _explain(self, message: UnreadableMessage) -> None:
        """Tell the customer once per chat and cooldown what the bot can read (not on every sticker)."""
        key = f"{message.chat_id}:{message.thread or ''}"
        now = time.monotonic()
        if now - self._noticed.get(key, -NOTICE_COOLDOWN) < NOTICE_COOLDOWN:
            return
        self._noticed[key] = now
        if len(self._noticed) > 10_000:
            self._noticed = {k: t for k, t in self._noticed.items() if now - t < NOTICE_COOLDOWN}
        target = _Target(message.chat_id, message.thread, message.message_id if message.in_group else None, False)
        try:
            await self._call(lambda: self._send_text(target, OutgoingMessage(UNREADABLE_NOTICE), target.quoted))
        except DeliveryFailed:
            log.warning("could not explain an unreadable %s in Telegram chat %s", message.kind, message.chat_id,
                        exc_info=True)

    async def _acknowledge(self, query_id: str, text: str | None = None) -> None:
        """Answer a callback query; a failure (the query expired) must not cost the turn behind it."""
        try:
            await self._call(lambda: self.bot.answer_callback_query(query_id, text=text))
        except DeliveryFailed:
            log.warning("could not answer Telegram callback query %s", query_id, exc_info=True)

    async def _call(self, request: Callable[[], Awaitable[Any]]) -> Any:
        """Run one Bot API call. Short flood control (HTTP 429) is waited out here; everything else
        Telegram refuses becomes DeliveryFailed: permanent when retrying cannot help (a bad request, the
        bot blocked or removed), transient for network trouble and server errors."""
        for attempt in range(1, SEND_ATTEMPTS + 1):
            try:
                return await request()
            except RetryAfter as error:
                seconds = _retry_after(error)
                if attempt == SEND_ATTEMPTS or seconds > INLINE_WAIT_LIMIT:
                    raise DeliveryFailed(f"Telegram flood control: {error}", retry_after=seconds) from error
                log.warning("telegram flood control: waiting %.1fs before retrying", seconds)
                await asyncio.sleep(seconds)
            except (BadRequest, Forbidden, ChatMigrated, InvalidToken, EndPointNotFound) as error:
                raise DeliveryFailed(f"Telegram refused the message: {error}", permanent=True) from error
            except (NetworkError, TelegramError) as error:  # NetworkError includes TimedOut and 5xx answers
                raise DeliveryFailed(f"Telegram did not take the message: {error}") from error
        raise AssertionError("unreachable")

    async def _on_error(self, update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        update_id = update.update_id if isinstance(update, Update) else None
        chat_id = update.effective_chat.id if isinstance(update, Update) and update.effective_chat else None
        log.error("telegram turn failed (update_id=%s chat=%s)", update_id, chat_id, exc_info=context.error)


def _markup(outgoing: OutgoingMessage) -> InlineKeyboardMarkup | None:
    if not outgoing.keyboard:
        return None
    return InlineKeyboardMarkup(
        [[InlineKeyboardButton(label, callback_data=data) for label, data in row] for row in outgoing.keyboard])


@dataclass(frozen=True, slots=True)
class _Target:
    """Where a reply's messages go: chat, forum topic, the message the first piece quotes, and whether a
    private reply was moved from a group to the customer's private chat."""

    chat_id: int
    thread: int | None
    quoted: int | None
    redirected: bool


def _target(reply: Reply) -> _Target:
    chat_id = int(reply.conversation.channel)
    if not (reply.private and chat_id < 0):  # private chats have positive ids, groups negative ones
        return _Target(chat_id, _thread(reply), _quoted_message(reply), False)
    if not reply.recipient.lstrip("-").isdigit():
        raise DeliveryFailed(f"private reply in Telegram group {chat_id} names no recipient", permanent=True)
    return _Target(int(reply.recipient), None, None, True)


def _thread(reply: Reply) -> int | None:
    return int(reply.conversation.thread) if reply.conversation.thread else None


def _retry_after(error: RetryAfter) -> float:
    with warnings.catch_warnings():
        # PTB 22 warns that retry_after becomes a timedelta; both forms are handled here.
        warnings.simplefilter("ignore", PTBDeprecationWarning)
        delay = error.retry_after
    return delay.total_seconds() if isinstance(delay, timedelta) else float(delay)


def _quoted_message(reply: Reply) -> int | None:
    """In groups, the customer message this reply answers (ids look like ``chat:message``)."""
    chat_id = reply.conversation.channel
    if not chat_id.startswith("-"):  # private chats have positive ids; replying there adds nothing
        return None
    chat, _, message = reply.in_reply_to.partition(":")
    return int(message) if chat == chat_id and message.isdigit() else None
