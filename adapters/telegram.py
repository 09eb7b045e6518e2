"""Telegram: private chats always, groups when the bot is mentioned or replied to; long polling or webhook.

Pure functions read the Bot API's JSON (:func:`update_to_inbound`, :func:`callback_to_turn`) and lay a
reply out as messages with an inline keyboard (:func:`reply_messages`). Replies are sent as plain text
(no parse mode, so nothing needs escaping) and split at paragraph or line boundaries when they pass
Telegram's 4,096-character limit; the keyboard rides on the last piece. The same message delivered
twice (a redelivered update, a restart) keeps its id ``chat:message`` and is answered once by the engine.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import re
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup, LinkPreviewOptions, ReplyParameters, Update
from telegram.error import InvalidToken, RetryAfter
from telegram.ext import Application, ApplicationBuilder, ContextTypes, TypeHandler
from telegram.warnings import PTBDeprecationWarning

from adapters.rendering import ButtonAction, decode_click, encode_click, render, split_message
from bot.config import TelegramPlatform
from bot.errors import ConfigError
from bot.types import (
    Attachment,
    ConversationKey,
    Feedback,
    FeedbackHandler,
    Inbound,
    MessageHandler,
    Reply,
)

__all__ = [
    "PLATFORM",
    "OutgoingMessage",
    "TelegramAdapter",
    "WebhookAnswer",
    "callback_to_turn",
    "reply_messages",
    "update_to_inbound",
]

PLATFORM = "telegram"
DEFAULT_API_BASE_URL = "https://api.telegram.org"
MESSAGE_LIMIT = 4096
CALLBACK_DATA_LIMIT = 64  # bytes
SECRET_HEADER = "x-telegram-bot-api-secret-token"
ALLOWED_UPDATES = ("message", "callback_query")
SEND_ATTEMPTS = 3
GROUP_CHATS = frozenset({"group", "supergroup"})

log = logging.getLogger("rapport.adapters.telegram")


# --- payload → engine types ----------------------------------------------------------------------


def update_to_inbound(update: Mapping[str, Any], bot_id: int, bot_username: str) -> Inbound | None:
    """A Bot API update (the JSON Telegram sends) as an Inbound; None unless it is a new message a
    customer wrote to the bot: private chats always, groups only when @mentioned or replying to the bot.
    Edits, channel posts and other bots' messages are ignored. ``/start CODE`` passes through as text."""
    message = update.get("message")
    if not isinstance(message, Mapping):
        return None
    chat, sender = message.get("chat"), message.get("from")
    if not isinstance(chat, Mapping) or not isinstance(sender, Mapping):
        return None
    chat_id, user_id, message_id = chat.get("id"), sender.get("id"), message.get("message_id")
    if not (isinstance(chat_id, int) and isinstance(user_id, int) and isinstance(message_id, int)):
        return None
    if sender.get("is_bot") or user_id == bot_id:
        return None
    text = message.get("text") if isinstance(message.get("text"), str) else message.get("caption")
    text = text if isinstance(text, str) else ""
    chat_type = chat.get("type")
    if chat_type in GROUP_CHATS:
        if not (_mentions(message, text, bot_id, bot_username) or _replies_to(message, bot_id)):
            return None
    elif chat_type != "private":
        return None
    text = _without_mention(text, bot_username)
    attachments = _attachments(message)
    if not text and not attachments:
        return None
    thread = message.get("message_thread_id") if message.get("is_topic_message") else None
    date = message.get("date")
    return Inbound(
        platform=PLATFORM,
        conversation=ConversationKey(PLATFORM, str(bot_id), str(chat_id), str(thread) if isinstance(thread, int) else ""),
        user_id=str(user_id),
        display_name=_name(sender),
        text=text,
        message_id=f"{chat_id}:{message_id}",
        received_at=datetime.fromtimestamp(date, UTC) if isinstance(date, int) else datetime.now(UTC),
        attachments=attachments,
        raw=update,
    )


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
    chat_id, user_id = (chat.get("id") if isinstance(chat, Mapping) else None), sender.get("id")
    if not (isinstance(chat_id, int) and isinstance(user_id, int)) or sender.get("is_bot") or user_id == bot_id:
        return None
    click = decode_click(data)
    if click is None:
        return None
    thread = message.get("message_thread_id") if message.get("is_topic_message") else None
    conversation = ConversationKey(PLATFORM, str(bot_id), str(chat_id), str(thread) if isinstance(thread, int) else "")
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
    return value if isinstance(value, int) else 0


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
        """One POST to /telegram/webhook: the secret token compared in constant time (403 when wrong or
        missing), malformed updates rejected (400), then the update answered before the 200."""
        lowered = {k.lower(): v for k, v in headers.items()}
        given = lowered.get(SECRET_HEADER, "")
        expected = self._settings.webhook_secret
        if not expected or not hmac.compare_digest(given.encode("utf-8"), expected.encode("utf-8")):
            return WebhookAnswer(403, "wrong or missing secret token")
        try:
            data = json.loads(body)
        except ValueError:
            return WebhookAnswer(400, "body is not JSON")
        update_id = data.get("update_id") if isinstance(data, dict) else None
        if not isinstance(update_id, int) or isinstance(update_id, bool):
            return WebhookAnswer(400, "not a Telegram update")
        try:
            await asyncio.wait_for(self._ready.wait(), timeout=10)
        except TimeoutError:
            return WebhookAnswer(503, "starting")
        try:
            # The SDK's own reading of the update is the schema: required fields present, types right.
            Update.de_json(data, self.bot)
        except (KeyError, TypeError, ValueError, AttributeError, IndexError) as error:
            log.warning("rejected a malformed Telegram update %s: %s", data.get("update_id"), error)
            return WebhookAnswer(400, "malformed update")
        await self._process(data)
        return WebhookAnswer(200)

    async def send(self, reply: Reply) -> None:
        """Send the reply as plain-text messages in its chat (and forum topic); in groups the first piece
        replies to the customer's message."""
        chat_id = int(reply.conversation.channel)
        thread = int(reply.conversation.thread) if reply.conversation.thread else None
        quoted = _quoted_message(reply, chat_id)
        for i, outgoing in enumerate(reply_messages(reply)):
            markup = InlineKeyboardMarkup(
                [[InlineKeyboardButton(label, callback_data=data) for label, data in row] for row in outgoing.keyboard]
            ) if outgoing.keyboard else None
            await self._call(lambda o=outgoing, m=markup, first=(i == 0): self.bot.send_message(
                chat_id,
                o.text,
                message_thread_id=thread,
                reply_parameters=ReplyParameters(quoted, allow_sending_without_reply=True) if first and quoted else None,
                reply_markup=m,
                link_preview_options=LinkPreviewOptions(is_disabled=True),
            ))

    async def _on_update(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        await self._process(update.to_dict())

    async def _process(self, data: Mapping[str, Any]) -> None:
        assert self._handler is not None, "TelegramAdapter used before start()"
        me = self.bot
        inbound = update_to_inbound(data, me.id, me.username or "")
        if inbound is not None:
            reply = await self._handler(inbound)
            if reply is not None:
                await self.send(reply)
            return
        query = data.get("callback_query")
        query_id = _str(query.get("id")) if isinstance(query, Mapping) else ""
        if not query_id:
            return
        turn = callback_to_turn(data, me.id)
        if isinstance(turn, Inbound):
            await self._call(lambda: me.answer_callback_query(query_id))
            reply = await self._handler(turn)
            if reply is not None:
                await self.send(reply)
        elif isinstance(turn, Feedback):
            if self._feedback is not None:
                await self._feedback(turn)
            await self._call(lambda: me.answer_callback_query(query_id, text="Thanks for the feedback!"))
        else:
            # A button we no longer know: stop the client's spinner all the same.
            await self._call(lambda: me.answer_callback_query(query_id))

    async def _call(self, request: Any) -> Any:
        """Run one Bot API call, waiting out flood control (HTTP 429, ``retry_after``) before retrying."""
        for attempt in range(1, SEND_ATTEMPTS + 1):
            try:
                return await request()
            except RetryAfter as error:
                if attempt == SEND_ATTEMPTS:
                    raise
                with warnings.catch_warnings():
                    # PTB 22 warns that retry_after becomes a timedelta; both forms are handled here.
                    warnings.simplefilter("ignore", PTBDeprecationWarning)
                    delay = error.retry_after
                seconds = delay.total_seconds() if isinstance(delay, timedelta) else float(delay)
                log.warning("telegram flood control: waiting %.1fs before retrying", seconds)
                await asyncio.sleep(seconds)
        return None

    async def _on_error(self, update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        update_id = update.update_id if isinstance(update, Update) else None
        chat_id = update.effective_chat.id if isinstance(update, Update) and update.effective_chat else None
        log.error("telegram turn failed (update_id=%s chat=%s)", update_id, chat_id, exc_info=context.error)


def _quoted_message(reply: Reply, chat_id: int) -> int | None:
    """In groups, the customer message this reply answers (ids look like ``chat:message``)."""
    if chat_id > 0:  # private chats have positive ids; replying there adds nothing
        return None
    chat, _, message = reply.in_reply_to.partition(":")
    return int(message) if chat == str(chat_id) and message.isdigit() else None
