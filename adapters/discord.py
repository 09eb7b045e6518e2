"""Discord: DMs, @mentions and replies to the bot in guild channels and threads, answered in place.

:func:`message_to_inbound` and :func:`click_to_turn` read discord.py's models; :func:`reply_messages` lays a
reply out as messages of at most 2,000 characters with buttons on the last. Buttons are
:class:`discord.ui.DynamicItem` s whose ``custom_id`` carries the click, so they keep working after a
restart. The bot ignores itself and every other bot. A message replayed after a reconnect keeps its
Discord id, and the engine answers it once.

``api_base_url`` sends REST calls to another server (and the gateway to the URL that server's
``GET /gateway/bot`` returns) through :class:`RedirectedHTTPClient`, a per-client subclass of
discord.py's HTTP client, and interaction responses through :class:`RedirectedWebhookAdapter`, set
for the client's tasks only: no process-wide ``Route.BASE`` change.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from typing import Any

import discord
import yarl
from discord.gateway import DiscordWebSocket
from discord.http import HTTPClient, Route
from discord.webhook.async_ import AsyncWebhookAdapter
from discord.webhook.async_ import async_context as webhook_context

from adapters.rendering import ButtonAction, decode_click, encode_click, render, shorten, split_message
from bot.config import DiscordPlatform
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
    "DiscordAdapter",
    "OutgoingMessage",
    "RedirectedHTTPClient",
    "RedirectedWebhookAdapter",
    "click_to_turn",
    "message_to_inbound",
    "reply_messages",
]

PLATFORM = "discord"
DM_WORKSPACE = "@me"
MESSAGE_LIMIT = 2000
CUSTOM_ID_LIMIT = 100
LABEL_LIMIT = 80
BUTTONS_PER_ROW = 5
THREAD_TYPES = frozenset({discord.ChannelType.public_thread, discord.ChannelType.private_thread,
                          discord.ChannelType.news_thread})
PERSON_MESSAGE_TYPES = frozenset({discord.MessageType.default, discord.MessageType.reply})

log = logging.getLogger("rapport.adapters.discord")


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


# --- discord.py plumbing -------------------------------------------------------------------------


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


def _redirect(route: Route, api_base_url: str) -> None:
    if route.url.startswith(Route.BASE):
        route.url = api_base_url + route.url[len(Route.BASE):]


class RedirectedHTTPClient(HTTPClient):
    """discord.py's HTTP client pointed at another API root; the gateway URL is then asked of that API
    (``GET /gateway/bot``) instead of connecting to ``gateway.discord.gg``."""

    def __init__(self, api_base_url: str, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.api_base_url = api_base_url.rstrip("/")
        self._gateway: str | None = None

    async def request(self, route: Route, **kwargs: Any) -> Any:
        _redirect(route, self.api_base_url)
        return await super().request(route, **kwargs)

    async def ws_connect(self, url: str, *, compress: int = 0) -> Any:
        default = str(DiscordWebSocket.DEFAULT_GATEWAY)
        if url.startswith(default):
            if self._gateway is None:
                _, self._gateway, _ = await self.get_bot_gateway()
            url = str(yarl.URL(self._gateway).with_query(yarl.URL(url).query))
        return await super().ws_connect(url, compress=compress)


class RedirectedWebhookAdapter(AsyncWebhookAdapter):
    """Interaction responses (and webhooks) go through this adapter, not the HTTP client: same redirect."""

    def __init__(self, api_base_url: str) -> None:
        super().__init__()
        self.api_base_url = api_base_url.rstrip("/")

    async def request(self, route: Route, *args: Any, **kwargs: Any) -> Any:
        _redirect(route, self.api_base_url)
        return await super().request(route, *args, **kwargs)


class RapportClient(discord.Client):
    """A discord.py client that hands messages and clicks to its :class:`DiscordAdapter`."""

    def __init__(self, adapter: DiscordAdapter, settings: DiscordPlatform) -> None:
        intents = discord.Intents.none()
        intents.guilds = True  # channel and thread cache: where a message was written
        intents.guild_messages = True
        intents.dm_messages = True
        intents.message_content = settings.message_content_intent
        super().__init__(intents=intents, allowed_mentions=discord.AllowedMentions.none())
        self.adapter = adapter
        if settings.api_base_url:
            self.http = RedirectedHTTPClient(settings.api_base_url, self.loop)
            # The connection state sends messages through the HTTP client too.
            self._connection.http = self.http

    async def setup_hook(self) -> None:
        self.add_dynamic_items(ReplyButton)

    async def on_ready(self) -> None:
        log.info("discord connected as %s in %d guild(s)", self.user, len(self.guilds))

    async def on_message(self, message: discord.Message) -> None:
        await self.adapter.on_message(message)

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
        """Log in, hold the gateway connection (discord.py reconnects and resumes by itself) until stopped."""
        self._handler, self._feedback = handler, feedback
        if self._stopping:
            return
        self._client = client = RapportClient(self, self._settings)
        if self._settings.api_base_url:
            # discord.py reads its webhook adapter from a context variable: setting it here redirects
            # this client's interaction responses (tasks it starts inherit the context) and nothing else.
            webhook_context.set(RedirectedWebhookAdapter(self._settings.api_base_url))
        try:
            async with client:
                await client.start(self._settings.bot_token)
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

    async def send(self, reply: Reply) -> None:
        """Send the reply where it was asked: the thread if there is one, else the channel or DM."""
        target_id = int(reply.conversation.thread or reply.conversation.channel)
        channel = self.client.get_partial_messageable(target_id)
        in_guild = reply.conversation.workspace != DM_WORKSPACE
        messages = reply_messages(reply)
        for i, outgoing in enumerate(messages):
            reference = None
            if i == 0 and in_guild and reply.in_reply_to.isdigit():
                reference = discord.MessageReference(
                    message_id=int(reply.in_reply_to), channel_id=target_id, fail_if_not_exists=False
                )
            view = _view(outgoing.buttons) if outgoing.buttons else None
            # Nobody is ever pinged by a reply's text; the customer is notified of the reply to them.
            await channel.send(outgoing.text, view=view, reference=reference,  # type: ignore[arg-type]
                               mention_author=reference is not None, suppress_embeds=True)

    async def on_message(self, message: discord.Message) -> None:
        me = self.client.user
        assert me is not None and self._handler is not None
        inbound = message_to_inbound(message, me.id)
        if inbound is None:
            return
        reply = await self._handler(inbound)
        if reply is not None:
            await self.send(reply)

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


def _view(buttons: tuple[OutgoingButton, ...]) -> discord.ui.View:
    view = discord.ui.View(timeout=None)
    for button in buttons:
        view.add_item(ReplyButton(button.label, button.custom_id, row=button.row, feedback=button.feedback))
    return view
