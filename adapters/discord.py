"""Discord: DMs, @mentions and replies to the bot in guild channels and threads, answered in place.

:func:`message_to_inbound` and :func:`click_to_turn` read discord.py's models; :func:`reply_messages` lays a
reply out as messages of at most 2,000 characters with buttons on the last. Buttons are
:class:`discord.ui.DynamicItem` s whose ``custom_id`` carries the click, so they keep working after a
restart. The bot ignores itself and every other bot. A message replayed after a reconnect keeps its
Discord id, and the engine answers it once.

Sending: every part carries a nonce derived from ``Reply.delivery_key`` with ``enforce_nonce`` (discord.py
adds it whenever a nonce is given), so when Discord created a message but answered 502 and the request is
retried (by discord.py or by the outbox), Discord returns the message it already has instead of posting it
twice. A private reply asked in a guild goes to the customer's DMs, never the channel. Refusals raise
:class:`~bot.errors.DeliveryFailed`. ``send`` returns the first message's id; a reply that was streamed edits
its placeholder (``message.edit``) into its first part, and posts it after all when the placeholder is gone.
A 👍/👎 reaction added to a message (the raw gateway event, with the reactions intents) becomes Feedback on
that message (:func:`reaction_to_feedback`); the delivery keeps it only when it is one of the bot's replies.

The gateway survives any frame: discord.py decodes frames with orjson when it is installed, which refuses
lone surrogates (``"\\ud800"``) that Discord does send; the decoder falls back to the standard library's
(which reads them; the engine strips them) and drops, with a log line, what nothing can read. An event
discord.py's parser chokes on is logged and dropped too, instead of ending the connection, so the session
lives on and a reconnect RESUMEs it.

``api_base_url`` (tests, a REST proxy) points discord.py's ``Route.BASE`` (the class attribute proxies
conventionally set) at that API and ``DiscordWebSocket.DEFAULT_GATEWAY`` at the gateway that API's ``GET
/gateway/bot`` names, for as long as the adapter runs: one Discord API per process.

discord.py is pinned to a tested minor range in pyproject.toml; the few undocumented pieces used here
(``utils._from_json``, ``ConnectionState.parsers``, ``Client.http``, the two class attributes) are checked by
``tests/adapters/test_discord_upgrade.py``, which fails loudly when an upgrade changes their shape.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import io
import json
import logging
import re
import secrets
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from typing import Any, TypeVar

import aiohttp
import discord
import discord.utils
import yarl
from discord.gateway import DiscordWebSocket
from discord.http import Route

from adapters.rendering import ButtonAction, decode_click, encode_click, render, shorten, split_message
from bot.config import DiscordPlatform
from bot.errors import ConfigError, DeliveryFailed
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

__all__ = [
    "PLATFORM",
    "DiscordAdapter",
    "OutgoingMessage",
    "click_to_turn",
    "delivery_nonce",
    "message_to_inbound",
    "reaction_to_feedback",
    "reply_messages",
    "tolerant_json",
]

PLATFORM = "discord"
DM_WORKSPACE = "@me"
MESSAGE_LIMIT = 2000
CUSTOM_ID_LIMIT = 100
LABEL_LIMIT = 80
BUTTONS_PER_ROW = 5
NONCE_LIMIT = 25  # characters Discord accepts in a nonce
# A 429 asking for a longer wait goes back to the outbox (DeliveryFailed.retry_after) instead of holding
# the send; 30 s is the least discord.py accepts.
MAX_RATELIMIT_WAIT = 30.0
THREAD_TYPES = frozenset({discord.ChannelType.public_thread, discord.ChannelType.private_thread,
                          discord.ChannelType.news_thread})
PERSON_MESSAGE_TYPES = frozenset({discord.MessageType.default, discord.MessageType.reply})
# Reactions that rate a reply; skin-tone and variation modifiers are dropped before the lookup.
REACTIONS = {"👍": FeedbackKind.HELPFUL, "👎": FeedbackKind.NOT_HELPFUL}
_EMOJI_MODIFIERS = re.compile("[\U0001F3FB-\U0001F3FF\uFE0F]")

log = logging.getLogger("rapport.adapters.discord")
T = TypeVar("T")


# --- payload → engine types ----------------------------------------------------------------------


def message_to_inbound(message: discord.Message, bot_user_id: int) -> Inbound | None:
    """A new Discord message as an Inbound; None unless a person wrote it to the bot: any DM, and in guild
    channels and threads only an @mention of the bot or a reply to one of its messages. Bots (this one
    included), webhooks, system messages and edits are ignored."""
    author = message.author
    if author.bot or author.id == bot_user_id or message.webhook_id is not None:
        return None
    if message.type not in PERSON_MESSAGE_TYPES or message.edited_at is not None:
        return None
    if message.guild is not None and not (
        any(user.id == bot_user_id for user in message.mentions) or _replies_to(message, bot_user_id)
    ):
        return None
    text = re.sub(rf"<@!?{bot_user_id}>", "", message.content)
    text = re.sub(r"[ \t]{2,}", " ", text).strip()
    attachments = tuple(
        Attachment(a.filename, a.content_type or "application/octet-stream", a.url, a.size) for a in message.attachments
    )
    if not text and not attachments:
        return None
    return Inbound(
        platform=PLATFORM,
        conversation=_conversation(message.guild.id if message.guild else None, message.channel),
        user_id=str(author.id),
        display_name=author.display_name,
        text=text,
        message_id=str(message.id),
        received_at=message.created_at,
        attachments=attachments,
    )


def click_to_turn(interaction: discord.Interaction[Any], custom_id: str, label: str) -> Inbound | Feedback | None:
    """A click on one of our buttons: a suggestion becomes the customer's next message in that channel or
    thread, 👍/👎 becomes Feedback. None for unknown buttons or clicks by bots."""
    click = decode_click(custom_id)
    user, channel = interaction.user, interaction.channel
    if click is None or user.bot or channel is None:
        return None
    conversation = _conversation(interaction.guild_id, channel)
    if click.action is ButtonAction.FEEDBACK:
        assert click.kind is not None
        return Feedback(
            platform=PLATFORM,
            conversation=conversation,
            user_id=str(user.id),
            in_reply_to=click.in_reply_to,
            kind=click.kind,
            feedback_id=str(interaction.id),
            received_at=interaction.created_at,
        )
    text = click.text or label
    if not text:
        return None
    return Inbound(
        platform=PLATFORM,
        conversation=conversation,
        user_id=str(user.id),
        display_name=user.display_name,
        text=text,
        message_id=f"interaction:{interaction.id}",
        received_at=interaction.created_at,
    )


def reaction_to_feedback(event: discord.RawReactionActionEvent, bot_user_id: int) -> Feedback | None:
    """A reaction added to a message as Feedback on that message (``reacted_to`` is its id, as
    :meth:`DiscordAdapter.send` returns it); None for other emoji (custom ones included), the bot's own
    reactions, bots, and messages Discord says someone else wrote. ``feedback_id`` is the same for the same
    (user, message, emoji), so a replayed event counts once."""
    if event.event_type != "REACTION_ADD" or event.user_id == bot_user_id or event.emoji.id is not None:
        return None
    if event.member is not None and event.member.bot:
        return None
    if event.message_author_id is not None and event.message_author_id != bot_user_id:
        return None
    kind = REACTIONS.get(_EMOJI_MODIFIERS.sub("", event.emoji.name or ""))
    if kind is None:
        return None
    workspace = str(event.guild_id) if event.guild_id else DM_WORKSPACE
    return Feedback(
        platform=PLATFORM,
        conversation=ConversationKey(PLATFORM, workspace, str(event.channel_id), ""),  # the delivery sets the reply's own
        user_id=str(event.user_id),
        in_reply_to="",
        kind=kind,
        feedback_id=f"reaction:{event.user_id}:{event.message_id}:{kind.value}",
        reacted_to=str(event.message_id),
    )


def _replies_to(message: discord.Message, bot_user_id: int) -> bool:
    resolved = message.reference.resolved if message.reference else None
    return isinstance(resolved, discord.Message) and resolved.author.id == bot_user_id


def _conversation(guild_id: int | None, channel: Any) -> ConversationKey:
    """Guild (``@me`` for DMs), channel, and the thread when the message is in one."""
    workspace = str(guild_id) if guild_id else DM_WORKSPACE
    parent = getattr(channel, "parent_id", None)
    if getattr(channel, "type", None) in THREAD_TYPES and parent:
        return ConversationKey(PLATFORM, workspace, str(parent), str(channel.id))
    return ConversationKey(PLATFORM, workspace, str(channel.id), "")


# --- reply → messages ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class OutgoingButton:
    label: str
    custom_id: str
    row: int
    feedback: bool


@dataclass(frozen=True, slots=True)
class OutgoingMessage:
    text: str
    buttons: tuple[OutgoingButton, ...] = ()


def reply_messages(reply: Reply) -> list[OutgoingMessage]:
    """The reply as Discord messages of at most 2,000 characters: answer, sources as subtext, and on the
    last piece the suggestion buttons (five to a row) above a row with 👍/👎."""
    rendered = render(reply)
    text = "\n\n".join(part for part in (rendered.body, f"-# {rendered.sources}" if rendered.sources else "") if part)
    pieces = split_message(text, MESSAGE_LIMIT) or ["…"]
    buttons: list[OutgoingButton] = []
    for button in rendered.suggestions[: BUTTONS_PER_ROW * 4]:
        custom_id = encode_click(button, rendered.in_reply_to, CUSTOM_ID_LIMIT) or f"s#{button.index}"
        if any(b.custom_id == custom_id for b in buttons):  # Discord wants custom ids unique in a message
            custom_id = f"s#{button.index}"
        row = button.index // BUTTONS_PER_ROW
        buttons.append(OutgoingButton(shorten(button.label, LABEL_LIMIT), custom_id, row, False))
    feedback_row = (buttons[-1].row + 1) if buttons else 0
    for button in rendered.feedback:
        custom_id = encode_click(button, rendered.in_reply_to, CUSTOM_ID_LIMIT)
        if custom_id is not None:
            buttons.append(OutgoingButton(button.label, custom_id, feedback_row, True))
    return [OutgoingMessage(p) for p in pieces[:-1]] + [OutgoingMessage(pieces[-1], tuple(buttons))]


def delivery_nonce(delivery_key: str, part: int) -> str:
    """The nonce of one part of a reply: the same for every retry of that part, distinct across parts and
    replies, within Discord's 25 characters."""
    return hashlib.sha256(f"{delivery_key}#{part}".encode()).hexdigest()[:NONCE_LIMIT]


# --- discord.py plumbing -------------------------------------------------------------------------


_library_from_json: Callable[[Any], Any] = discord.utils._from_json


def tolerant_json(data: str | bytes) -> Any:
    """discord.py's JSON decoder (orjson when installed), falling back to the standard library's, which
    reads lone surrogates orjson refuses; what neither can read is logged (its size only) and read as an
    empty document, which the gateway ignores, instead of ending the connection."""
    try:
        return _library_from_json(data)
    except (ValueError, RecursionError):
        pass
    try:
        return json.loads(data)
    except (ValueError, RecursionError):
        log.warning("discord: dropped a JSON document nothing can read (%d bytes)", len(data))
        return {}


def _install_tolerant_json() -> None:
    # discord.py looks ``utils._from_json`` up at each call (gateway frames and REST bodies), so this one
    # assignment covers both; it only widens what is accepted, so it is safe for any client in the process.
    discord.utils._from_json = tolerant_json


def _guarded_parsers(parsers: dict[str, Callable[[Any], None]]) -> dict[str, Callable[[Any], None]]:
    """discord.py's gateway event parsers, each made to log and drop an event it cannot read (an uncaught
    error there ends the gateway connection, and with it the session)."""
    def guard(event: str, parse: Callable[[Any], None]) -> Callable[[Any], None]:
        def parse_or_drop(data: Any) -> None:
            try:
                parse(data)
            except Exception:  # any failure to read one event: the next one must still be read
                message_id = data.get("id") if isinstance(data, dict) else None
                log.exception("discord: dropped a %s event it could not read (id=%s)", event, message_id)

        return parse_or_drop

    return {event: guard(event, parse) for event, parse in parsers.items()}


_redirected: str | None = None  # the api_base_url this process's discord.py is pointed at, if any


@contextlib.contextmanager
def _pointed_at(api_base_url: str) -> Iterator[Callable[[str], None]]:
    """discord.py's REST calls go to ``api_base_url`` while the block runs; the callable it yields sets the
    gateway URL. Both are class attributes, so one API per process: a second, different one is refused."""
    global _redirected
    if not api_base_url:
        yield lambda gateway: None
        return
    api = api_base_url.rstrip("/")
    if _redirected not in (None, api):
        raise ConfigError(f"discord.py is already pointed at {_redirected} in this process",
                          fix="run one Discord adapter per process, or give them the same api_base_url")
    base, gateway = Route.BASE, DiscordWebSocket.DEFAULT_GATEWAY
    Route.BASE, _redirected = api, api

    def set_gateway(url: str) -> None:
        DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(url)

    try:
        yield set_gateway
    finally:
        Route.BASE, DiscordWebSocket.DEFAULT_GATEWAY, _redirected = base, gateway, None


class ReplyButton(discord.ui.DynamicItem[discord.ui.Button[Any]], template=r"(?:s[|#]|f[+-]\|).+"):
    """One of our buttons, rebuilt from its ``custom_id`` on every click (so clicks survive restarts)."""

    def __init__(self, label: str, custom_id: str, row: int | None = None, feedback: bool = False) -> None:
        style = discord.ButtonStyle.secondary if feedback else discord.ButtonStyle.primary
        super().__init__(discord.ui.Button(label=label, custom_id=custom_id, style=style), row=row)

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction[Any], item: discord.ui.Item[Any], match: re.Match[str], /
    ) -> ReplyButton:
        assert isinstance(item, discord.ui.Button)
        return cls(item.label or "", item.custom_id or match.group(0))

    async def callback(self, interaction: discord.Interaction[Any]) -> None:
        client = interaction.client
        assert isinstance(client, RapportClient)
        await client.adapter.on_click(interaction, self.custom_id, self.item.label or "")


class RapportClient(discord.Client):
    """A discord.py client that hands messages and clicks to its :class:`DiscordAdapter`."""

    def __init__(self, adapter: DiscordAdapter, settings: DiscordPlatform) -> None:
        intents = discord.Intents.none()
        intents.guilds = True  # channel and thread cache: where a message was written
        intents.guild_messages = True
        intents.dm_messages = True
        intents.guild_reactions = True  # 👍/👎 on the bot's replies are feedback
        intents.dm_reactions = True
        intents.message_content = settings.message_content_intent
        super().__init__(intents=intents, allowed_mentions=discord.AllowedMentions.none(),
                         max_ratelimit_timeout=MAX_RATELIMIT_WAIT)
        self.adapter = adapter
        _install_tolerant_json()
        self._connection.parsers = _guarded_parsers(self._connection.parsers)

    async def setup_hook(self) -> None:
        self.add_dynamic_items(ReplyButton)

    async def on_ready(self) -> None:
        log.info("discord connected as %s in %d guild(s)", self.user, len(self.guilds))

    async def on_resumed(self) -> None:
        log.info("discord session resumed")

    async def on_message(self, message: discord.Message) -> None:
        await self.adapter.on_message(message)

    async def on_raw_reaction_add(self, event: discord.RawReactionActionEvent) -> None:
        await self.adapter.on_reaction(event)

    async def on_error(self, event_method: str, /, *args: Any, **kwargs: Any) -> None:
        message = args[0] if args and isinstance(args[0], discord.Message) else None
        log.exception(
            "discord %s failed (message=%s channel=%s guild=%s)", event_method,
            message.id if message else None, message.channel.id if message else None,
            message.guild.id if message and message.guild else None,
        )


class DiscordAdapter:
    platform = PLATFORM

    def __init__(self, settings: DiscordPlatform) -> None:
        self._settings = settings
        self._handler: MessageHandler | None = None
        self._feedback: FeedbackHandler | None = None
        self._client: RapportClient | None = None
        self._stopping = False

    @property
    def client(self) -> RapportClient:
        if self._client is None:
            raise RuntimeError("DiscordAdapter used before start()")
        return self._client

    async def start(self, handler: MessageHandler, feedback: FeedbackHandler | None = None) -> None:
        """Log in, hold the gateway connection until stopped. discord.py reconnects by itself, RESUMEing the
        session when it can; nothing here closes the client on an error it can recover from."""
        self._handler, self._feedback = handler, feedback
        if self._stopping:
            return
        self._client = client = RapportClient(self, self._settings)
        try:
            with _pointed_at(self._settings.api_base_url) as set_gateway:
                async with client:
                    await client.login(self._settings.bot_token)
                    if self._settings.api_base_url:
                        _, gateway, _ = await client.http.get_bot_gateway()
                        set_gateway(gateway)
                    await client.connect(reconnect=True)
        except discord.LoginFailure as error:
            raise ConfigError(
                "Discord rejected platforms.discord.bot_token",
                fix="set DISCORD_BOT_TOKEN to the token under Bot → Token in the Developer Portal",
            ) from error
        except discord.PrivilegedIntentsRequired as error:
            raise ConfigError(
                "Discord refused the Message Content intent (platforms.discord.message_content_intent: true)",
                fix="turn it on under Bot → Privileged Gateway Intents, or set message_content_intent: false",
            ) from error

    async def stop(self) -> None:
        self._stopping = True
        if self._client is not None:
            await self._client.close()

    async def send(self, reply: Reply) -> str | None:
        """Send the reply where it was asked: the thread if there is one, else the channel or DM; a private
        reply asked in a guild goes to the customer's DMs instead. Files ride on the last message. A reply
        with ``edit_message`` (its streamed placeholder) edits that message into its first part. Raises
        DeliveryFailed unless Discord accepted every part; returns the first message's id."""
        channel, quote = await self._destination(reply)
        messages = reply_messages(reply)
        # Without an outbox entry, a key for this call still keeps discord.py's own retries from doubling.
        key = reply.delivery_key or secrets.token_hex(16)
        first: str | None = None
        for i, outgoing in enumerate(messages):
            last_files = i == len(messages) - 1 and bool(reply.files)
            if i == 0 and reply.edit_message.isdigit() and not last_files:
                if await self._edit_placeholder(channel, int(reply.edit_message), outgoing):
                    first = reply.edit_message
                    continue
            reference = None
            if i == 0 and quote:
                reference = discord.MessageReference(
                    message_id=int(reply.in_reply_to), channel_id=channel.id, fail_if_not_exists=False
                )
            extra: dict[str, Any] = {}
            if outgoing.buttons:
                extra["view"] = _view(outgoing.buttons)
            if i == len(messages) - 1 and reply.files:
                extra["files"] = [discord.File(io.BytesIO(f.content.encode("utf-8")), filename=f.name)
                                  for f in reply.files]
            # Nobody is ever pinged by a reply's text; the customer is notified of the reply to them.
            sent = await _delivered(channel.send(outgoing.text, reference=reference,  # type: ignore[arg-type]
                                                 mention_author=reference is not None, suppress_embeds=True,
                                                 nonce=delivery_nonce(key, i), **extra))
            first = str(sent.id) if i == 0 else first
        return first

    async def _edit_placeholder(self, channel: discord.abc.Messageable, message_id: int, outgoing: OutgoingMessage) -> bool:
        """The first part written over the streamed placeholder, buttons included; False when the
        placeholder is gone (deleted): the caller posts the part instead."""
        partial = channel.get_partial_message(message_id)  # type: ignore[attr-defined]
        extra: dict[str, Any] = {"view": _view(outgoing.buttons)} if outgoing.buttons else {}
        try:
            await _delivered(partial.edit(content=outgoing.text, **extra))
        except DeliveryFailed as failure:
            if isinstance(failure.__cause__, discord.NotFound):
                log.info("discord placeholder %s is gone; posting the reply", message_id)
                return False
            raise
        return True

    # --- streaming: a placeholder edited as checked sentences arrive (bot/llm/stream.py) ---

    async def post_placeholder(self, conversation: ConversationKey, text: str) -> str:
        """Post the first streamed sentences where the reply will go (thread, channel or DM); its id."""
        target = self.client.get_partial_messageable(int(conversation.thread or conversation.channel))
        sent = await target.send(text[:MESSAGE_LIMIT], suppress_embeds=True)
        return str(sent.id)

    async def edit_placeholder(self, conversation: ConversationKey, message: str, text: str) -> None:
        target = self.client.get_partial_messageable(int(conversation.thread or conversation.channel))
        await target.get_partial_message(int(message)).edit(content=text[:MESSAGE_LIMIT])

    async def _destination(self, reply: Reply) -> tuple[discord.abc.Messageable, bool]:
        """The channel to post in, and whether the first part quotes the customer's message (in guilds)."""
        in_guild = reply.conversation.workspace != DM_WORKSPACE
        if reply.private and in_guild:
            if not reply.recipient.isdigit():
                raise DeliveryFailed(f"private Discord reply in {reply.conversation} names no recipient",
                                     permanent=True)
            dm = await _delivered(self.client.create_dm(discord.Object(int(reply.recipient))))
            return dm, False
        target_id = int(reply.conversation.thread or reply.conversation.channel)
        return self.client.get_partial_messageable(target_id), in_guild and reply.in_reply_to.isdigit()

    async def on_message(self, message: discord.Message) -> None:
        me = self.client.user
        assert me is not None and self._handler is not None
        inbound = message_to_inbound(message, me.id)
        if inbound is None:
            return
        reply = await self._handler(inbound)
        if reply is not None:
            await self.send(reply)

    async def on_reaction(self, event: discord.RawReactionActionEvent) -> None:
        me = self.client.user
        assert me is not None
        feedback = reaction_to_feedback(event, me.id)
        if feedback is not None and self._feedback is not None:
            await self._feedback(feedback)

    async def on_click(self, interaction: discord.Interaction[Any], custom_id: str, label: str) -> None:
        turn = click_to_turn(interaction, custom_id, label)
        if isinstance(turn, Feedback):
            await interaction.response.send_message("Thanks for the feedback!", ephemeral=True)
            if self._feedback is not None:
                await self._feedback(turn)
            return
        # Acknowledge within Discord's 3 seconds; the answer follows as a message in the channel.
        await interaction.response.defer()
        if isinstance(turn, Inbound):
            assert self._handler is not None
            reply = await self._handler(turn)
            if reply is not None:
                await self.send(reply)


async def _delivered(request: Awaitable[T]) -> T:
    """Await one Discord call; whatever Discord refuses becomes DeliveryFailed: permanent for 4xx (no
    access, unknown channel, an invalid body), with ``retry_after`` for a long rate limit, transient for
    5xx and connection trouble."""
    try:
        return await request
    except discord.RateLimited as error:
        raise DeliveryFailed(f"Discord rate limit: {error}", retry_after=error.retry_after) from error
    except discord.HTTPException as error:
        permanent = 400 <= error.status < 500 and error.status != 429
        raise DeliveryFailed(f"Discord refused the message ({error.status}): {error.text}",
                             permanent=permanent) from error
    except (aiohttp.ClientError, OSError, asyncio.TimeoutError) as error:
        raise DeliveryFailed(f"Discord could not be reached: {error!r}") from error


def _view(buttons: tuple[OutgoingButton, ...]) -> discord.ui.View:
    view = discord.ui.View(timeout=None)
    for button in buttons:
        view.add_item(ReplyButton(button.label, button.custom_id, row=button.row, feedback=button.feedback))
    return view
