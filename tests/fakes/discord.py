"""A fake Discord: the REST routes discord.py calls and a gateway websocket that speaks the v10 protocol.

Point discord.py at ``fake.api_url`` (``platforms.discord.api_base_url``). ``GET /gateway/bot`` hands out
the fake's gateway, which says HELLO, answers IDENTIFY with READY and one GUILD_CREATE, RESUME with
RESUMED, acknowledges heartbeats, and delivers whatever :meth:`FakeDiscord.dispatch` sends (MESSAGE_CREATE,
INTERACTION_CREATE) or :meth:`FakeDiscord.send_raw` writes. :func:`build_message` turns a MESSAGE_CREATE
payload into the ``discord.Message`` discord.py would build, for the pure-function tests.

Creating a message behaves like the real API: an ``enforce_nonce`` create whose nonce was already used
returns the message that exists instead of posting another; bodies over Discord's limits (2,000 characters
of content, 5 rows of 5 buttons, 80-character labels, 100-character custom ids) get 400 with code 50035; a
user whose DMs are closed gets 403 code 50007. :meth:`FakeDiscord.fault` injects errors, including "create,
then answer 502" (the message exists, the client is told it failed). ``create_message`` calls are the
messages that exist; every POST is also recorded as ``create_message_attempt``.
"""

from __future__ import annotations

import asyncio
import itertools
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import discord
from aiohttp import WSMsgType, web
from discord.state import ConnectionState

from tests.fakes.server import Call, CallLog, LoopbackServer

_snowflakes = itertools.count(1)


def snowflake() -> str:
    """A fresh id whose timestamp is now, like Discord's."""
    return str(discord.utils.time_snowflake(datetime.now(UTC)) + next(_snowflakes))


BOT_TOKEN = "discord-test-token"
BOT_ID = "1100000000000000001"
GUILD_ID = "1100000000000000100"
CHANNEL_ID = "1100000000000000200"
THREAD_ID = "1100000000000000300"
DM_CHANNEL_ID = "1100000000000000400"
BOT_USER = {"id": BOT_ID, "username": "rapport", "discriminator": "0", "global_name": "Rapport", "avatar": None,
            "bot": True, "flags": 0}
CUSTOMER = {"id": "1100000000000000500", "username": "ana.silva", "discriminator": "0", "global_name": "Ana Silva",
            "avatar": None, "flags": 0}
OTHER_BOT = {"id": "1100000000000000600", "username": "ci-bot", "discriminator": "0", "global_name": None,
             "avatar": None, "bot": True, "flags": 0}


def guild_payload() -> dict[str, Any]:
    """GUILD_CREATE for a server with #support and a thread in it."""
    everyone = {"id": GUILD_ID, "name": "@everyone", "permissions": "1071698660929", "position": 0, "color": 0,
                "hoist": False, "managed": False, "mentionable": False, "flags": 0}
    return {
        "id": GUILD_ID, "name": "Northwind Customers", "icon": None, "owner_id": CUSTOMER["id"], "unavailable": False,
        "member_count": 2, "large": False, "features": [], "roles": [everyone], "emojis": [], "stickers": [],
        "joined_at": "2024-01-01T00:00:00+00:00", "verification_level": 0, "default_message_notifications": 0,
        "explicit_content_filter": 0, "mfa_level": 0, "premium_tier": 0, "preferred_locale": "en-US", "nsfw_level": 0,
        "system_channel_flags": 0, "afk_timeout": 300, "voice_states": [], "presences": [], "members": [],
        "channels": [{"id": CHANNEL_ID, "type": 0, "guild_id": GUILD_ID, "name": "support", "position": 0,
                      "permission_overwrites": [], "nsfw": False, "parent_id": None, "topic": None,
                      "rate_limit_per_user": 0, "last_message_id": None}],
        "threads": [{"id": THREAD_ID, "type": 11, "guild_id": GUILD_ID, "parent_id": CHANNEL_ID,
                     "name": "order 1042 arrived damaged", "owner_id": CUSTOMER["id"], "message_count": 3,
                     "member_count": 2, "rate_limit_per_user": 0, "flags": 0, "last_message_id": None,
                     "thread_metadata": {"archived": False, "auto_archive_duration": 1440, "locked": False,
                                         "archive_timestamp": "2024-01-01T00:00:00+00:00"}}],
    }


def message_payload(content: str, *, channel_id: str = CHANNEL_ID, guild: bool = True, author: dict[str, Any] = CUSTOMER,
                    mention_bot: bool = False, message_id: str | None = None, **extra: Any) -> dict[str, Any]:
    """A MESSAGE_CREATE payload; ``mention_bot`` writes ``<@bot>`` first and lists the bot in mentions."""
    text = f"<@{BOT_ID}> {content}" if mention_bot else content
    data: dict[str, Any] = {
        "id": message_id or snowflake(), "channel_id": channel_id, "author": author, "content": text,
        "timestamp": datetime.now(UTC).isoformat(), "edited_timestamp": None, "tts": False,
        "mention_everyone": False, "mentions": [BOT_USER] if mention_bot else [], "mention_roles": [],
        "attachments": [], "embeds": [], "pinned": False, "type": 0, "flags": 0, "components": [],
    }
    if guild:
        data["guild_id"] = GUILD_ID
        data["member"] = {"roles": [], "joined_at": "2024-01-01T00:00:00+00:00", "deaf": False, "mute": False,
                          "flags": 0}
    data.update(extra)
    return data


def bot_message_payload(sent: dict[str, Any], channel_id: str, message_id: str, guild: bool = True) -> dict[str, Any]:
    """The message the bot sent (a recorded create-message body) as Discord returns it."""
    data = message_payload(sent.get("content", ""), channel_id=channel_id, guild=guild, author=BOT_USER,
                           message_id=message_id, components=sent.get("components", []))
    data.pop("member", None)
    return data


def interaction_payload(custom_id: str, message: dict[str, Any], *, user: dict[str, Any] = CUSTOMER,
                        channel: dict[str, Any] | None = None) -> dict[str, Any]:
    """INTERACTION_CREATE: ``user`` clicked the button ``custom_id`` on the bot's ``message``."""
    in_guild = "guild_id" in message
    data: dict[str, Any] = {
        "id": snowflake(), "application_id": BOT_ID, "type": 3, "token": "interaction-token", "version": 1,
        "data": {"custom_id": custom_id, "component_type": 2}, "channel_id": message["channel_id"],
        "channel": channel or {"id": message["channel_id"], "type": 0 if in_guild else 1},
        "message": message, "app_permissions": "0", "locale": "en-US", "entitlements": [],
        "authorizing_integration_owners": {}, "context": 0 if in_guild else 1, "attachment_size_limit": 10485760,
    }
    if in_guild:
        data["guild_id"] = GUILD_ID
        data["guild"] = {"id": GUILD_ID, "features": [], "locale": "en-US"}
        data["guild_locale"] = "en-US"
        data["member"] = {"user": user, "roles": [], "joined_at": "2024-01-01T00:00:00+00:00", "deaf": False,
                          "mute": False, "flags": 0, "permissions": "1071698660929"}
    else:
        data["user"] = user
    return data


def reaction_payload(emoji: str, message_id: str, channel_id: str, *, user: dict[str, Any] = CUSTOMER,
                     guild: bool = True, author_id: str | None = BOT_ID) -> dict[str, Any]:
    """MESSAGE_REACTION_ADD: ``user`` reacted with ``emoji`` to the message ``message_id``."""
    data: dict[str, Any] = {"user_id": user["id"], "channel_id": channel_id, "message_id": message_id,
                            "emoji": {"id": None, "name": emoji}, "burst": False, "type": 0}
    if author_id is not None:
        data["message_author_id"] = author_id
    if guild:
        data["guild_id"] = GUILD_ID
        data["member"] = {"user": user, "roles": [], "joined_at": "2024-01-01T00:00:00+00:00", "deaf": False,
                          "mute": False, "flags": 0}
    return data


THREAD_CHANNEL = {"id": THREAD_ID, "type": 11, "guild_id": GUILD_ID, "parent_id": CHANNEL_ID, "name": "order 1042",
                  "thread_metadata": {"archived": False, "auto_archive_duration": 1440, "locked": False,
                                      "archive_timestamp": "2024-01-01T00:00:00+00:00"}}


CONTENT_LIMIT, LABEL_LIMIT, CUSTOM_ID_LIMIT, ROWS, BUTTONS_PER_ROW = 2000, 80, 100, 5, 5


@dataclass
class Fault:
    status: int
    times: int
    after_create: bool = False  # the message is created, then the client is told it failed
    retry_after: float | None = None


class FakeDiscord:
    def __init__(self) -> None:
        self.log = CallLog()
        self.identified = asyncio.Event()
        self.dms_closed: set[str] = set()  # users who do not accept DMs from the bot
        self._socket: web.WebSocketResponse | None = None
        self._sequence = itertools.count(1)
        self._faults: list[Fault] = []
        self._by_nonce: dict[str, dict[str, Any]] = {}
        self._dm_channels: dict[str, str] = {CUSTOMER["id"]: DM_CHANNEL_ID}
        self.messages: dict[str, dict[str, Any]] = {}  # id → every message the bot created, as it is now
        self.deleted: set[str] = set()  # ids of messages deleted in the client
        app = web.Application(client_max_size=2**22)
        app.router.add_get("/api/v10/users/@me", self._me)
        app.router.add_post("/api/v10/users/@me/channels", self._create_dm)
        app.router.add_get("/api/v10/oauth2/applications/@me", self._application)
        app.router.add_get("/api/v10/gateway/bot", self._gateway_url)
        app.router.add_post("/api/v10/channels/{channel}/messages", self._create_message)
        app.router.add_patch("/api/v10/channels/{channel}/messages/{message}", self._edit_message)
        app.router.add_post("/api/v10/interactions/{id}/{token}/callback", self._interaction_callback)
        app.router.add_get("/gateway", self._gateway)
        self._server = LoopbackServer(app)

    async def __aenter__(self) -> FakeDiscord:
        await self._server.__aenter__()
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._socket is not None:
            await self._socket.close()
        await self._server.__aexit__(*exc)

    @property
    def api_url(self) -> str:
        return f"{self._server.url}/api/v10"

    # --- REST ---

    async def _me(self, request: web.Request) -> web.Response:
        authorization = request.headers.get("Authorization", "")
        await self.log.record(Call("GET /users/@me", {}, {"authorization": authorization}))
        if authorization != f"Bot {BOT_TOKEN}":
            return _json({"message": "401: Unauthorized", "code": 0}, status=401)
        return _json(BOT_USER)

    async def _application(self, request: web.Request) -> web.Response:
        return _json({"id": BOT_ID, "name": "Rapport", "icon": None, "description": "", "bot_public": True,
                                  "bot_require_code_grant": False, "owner": CUSTOMER, "verify_key": "0" * 64,
                                  "flags": 0, "summary": "", "rpc_origins": []})

    async def _gateway_url(self, request: web.Request) -> web.Response:
        return _json({"url": f"ws://127.0.0.1:{self._server.port}/gateway", "shards": 1,
                                  "session_start_limit": {"total": 1000, "remaining": 999, "reset_after": 0,
                                                          "max_concurrency": 1}})

    def fault(self, status: int, times: int = 1, *, after_create: bool = False, retry_after: float | None = None
              ) -> None:
        """Answer the next ``times`` message creates with ``status``; ``after_create``: create the message
        first (Discord's 502 after the write); 429 carries ``retry_after`` as Discord's rate limiter does."""
        self._faults.append(Fault(status, times, after_create, retry_after))

    async def _create_message(self, request: web.Request) -> web.Response:
        channel = request.match_info["channel"]
        body = await _message_body(request)
        body["channel_id"] = channel
        await self.log.record(Call("create_message_attempt", body))
        fault = self._next_fault()
        if fault is not None and not fault.after_create:
            return _failure(fault)
        nonce = body.get("nonce")
        if body.get("enforce_nonce") and nonce in self._by_nonce:
            return _json(self._by_nonce[nonce])  # what Discord does: the existing message, nothing new posted
        refusal = self._refusal(channel, body)
        if refusal is not None:
            return refusal
        created = bot_message_payload(body, channel, snowflake(), guild=channel not in self._dm_channels.values())
        if isinstance(nonce, str) and body.get("enforce_nonce"):
            self._by_nonce[nonce] = created
        self.messages[created["id"]] = created
        body["id"] = created["id"]
        await self.log.record(Call("create_message", body))
        return _failure(fault) if fault is not None else _json(created)

    async def _edit_message(self, request: web.Request) -> web.Response:
        """PATCH a message: 404 code 10008 for one that does not exist (never created, or deleted)."""
        message_id = request.match_info["message"]
        body = await _message_body(request)
        body["channel_id"], body["id"] = request.match_info["channel"], message_id
        if message_id in self.deleted or message_id not in self.messages:
            await self.log.record(Call("refused:edit_message", body))
            return _json({"message": "Unknown Message", "code": 10008}, status=404)
        errors = _limit_errors(body)
        if errors:
            return _json({"message": "Invalid Form Body", "code": 50035, "errors": errors}, status=400)
        await self.log.record(Call("edit_message", body))
        message = self.messages[message_id]
        message.update({k: v for k, v in body.items() if k in ("content", "components", "flags")})
        message["edited_timestamp"] = datetime.now(UTC).isoformat()
        return _json(message)

    def _next_fault(self) -> Fault | None:
        for fault in self._faults:
            if fault.times > 0:
                fault.times -= 1
                return fault
        return None

    def _refusal(self, channel: str, body: dict[str, Any]) -> web.Response | None:
        recipient = next((user for user, dm in self._dm_channels.items() if dm == channel), None)
        if recipient in self.dms_closed:
            return _json({"message": "Cannot send messages to this user", "code": 50007}, status=403)
        if not (body.get("content") or body.get("files") or body.get("components")):
            return _json({"message": "Cannot send an empty message", "code": 50006}, status=400)
        errors = _limit_errors(body)
        if errors:
            return _json({"message": "Invalid Form Body", "code": 50035, "errors": errors}, status=400)
        return None

    async def _create_dm(self, request: web.Request) -> web.Response:
        body = await request.json()
        recipient = str(body["recipient_id"])
        await self.log.record(Call("create_dm", body))
        channel = self._dm_channels.setdefault(recipient, snowflake())
        user = {**CUSTOMER, "id": recipient}
        return _json({"id": channel, "type": 1, "recipients": [user], "last_message_id": None, "flags": 0})

    async def _interaction_callback(self, request: web.Request) -> web.Response:
        body = await request.json() if request.can_read_body else {}
        if request.content_type.startswith("multipart/"):
            body = json.loads(str((await request.post())["payload_json"]))
        interaction_id = request.match_info["id"]
        body["interaction_id"] = interaction_id
        await self.log.record(Call("interaction_callback", body))
        if request.query.get("with_response") not in ("true", "True", "1"):
            return web.Response(status=204)
        ephemeral = bool((body.get("data") or {}).get("flags", 0) & 64)
        return _json({"interaction": {"id": interaction_id, "type": 3, "response_message_ephemeral": ephemeral,
                                      "response_message_loading": False},
                      "resource": {"type": body.get("type", 4)}})

    # --- gateway ---

    async def _gateway(self, request: web.Request) -> web.WebSocketResponse:
        socket = web.WebSocketResponse(autoping=True, max_msg_size=0)
        await socket.prepare(request)
        self._socket = socket
        await socket.send_json({"op": 10, "d": {"heartbeat_interval": 41250}, "s": None, "t": None})
        async for message in socket:
            if message.type != WSMsgType.TEXT:
                continue
            payload = json.loads(message.data)
            match payload.get("op"):
                case 1:  # heartbeat
                    await socket.send_json({"op": 11, "d": None, "s": None, "t": None})
                case 6:  # resume: the session goes on, nothing is set up again
                    await self.log.record(Call("RESUME", payload["d"]))
                    await self.dispatch("RESUMED", {})
                    self.identified.set()
                case 2:  # identify
                    await self.log.record(Call("IDENTIFY", payload["d"]))
                    await self.dispatch("READY", {
                        "v": 10, "user": BOT_USER, "guilds": [{"id": GUILD_ID, "unavailable": True}],
                        "session_id": "fake-session", "shard": [0, 1],
                        "resume_gateway_url": f"ws://127.0.0.1:{self._server.port}/gateway",
                        "application": {"id": BOT_ID, "flags": 0}, "private_channels": [], "relationships": [],
                    })
                    await self.dispatch("GUILD_CREATE", guild_payload())
                    self.identified.set()
        self.identified.clear()
        return socket

    async def dispatch(self, event: str, data: dict[str, Any]) -> None:
        """Send one gateway DISPATCH (op 0) to the connected client."""
        await asyncio.wait_for(self._wait_connected(), 10)
        assert self._socket is not None
        await self._socket.send_json({"op": 0, "t": event, "s": next(self._sequence), "d": data})

    async def send_raw(self, frame: str) -> None:
        """Write one text frame exactly as given (e.g. JSON that is not valid Unicode, or not JSON at all)."""
        await asyncio.wait_for(self._wait_connected(), 10)
        assert self._socket is not None
        await self._socket.send_str(frame)

    async def ask_to_reconnect(self) -> None:
        """Gateway op 7 RECONNECT, as Discord sends before moving a session: the client should RESUME."""
        await asyncio.wait_for(self._wait_connected(), 10)
        assert self._socket is not None
        self.identified.clear()
        await self._socket.send_json({"op": 7, "d": None, "s": None, "t": None})

    async def _wait_connected(self) -> None:
        while self._socket is None or self._socket.closed:
            await asyncio.sleep(0.01)


def _json(data: object, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    # Exactly "application/json", as Discord sends it: discord.py decodes only that content type.
    return web.Response(body=json.dumps(data).encode(), status=status,
                        headers={"Content-Type": "application/json", **(headers or {})})


def _failure(fault: Fault) -> web.Response:
    if fault.status == 429:
        # Discord's rate limiter answers through its proxy ("Via"); without it discord.py assumes a ban.
        return _json({"message": "You are being rate limited.", "retry_after": fault.retry_after or 1.0,
                      "global": False}, status=429, headers={"Via": "1.1 google"})
    if fault.status >= 500:
        return web.Response(status=fault.status, text="upstream connect error", content_type="text/plain")
    return _json({"message": "Missing Access", "code": 50001}, status=fault.status)


async def _message_body(request: web.Request) -> dict[str, Any]:
    """The create-message JSON; for multipart, ``payload_json`` plus ``files``: [{"filename", "content"}]."""
    if not request.content_type.startswith("multipart/"):
        return await request.json()
    form = await request.post()
    body = json.loads(str(form["payload_json"]))
    body["files"] = [{"filename": value.filename, "content": value.file.read()}
                     for key, value in form.items() if key.startswith("files[") and isinstance(value, web.FileField)]
    return body


def _limit_errors(body: dict[str, Any]) -> dict[str, Any]:
    """Where the body breaks Discord's limits, keyed as Discord's ``errors`` object keys them."""
    errors: dict[str, Any] = {}
    if len(str(body.get("content") or "")) > CONTENT_LIMIT:
        errors["content"] = {"_errors": [{"code": "BASE_TYPE_MAX_LENGTH", "message": "Must be 2000 or fewer in length."}]}
    rows = body.get("components") or []
    if len(rows) > ROWS:
        errors["components"] = {"_errors": [{"code": "BASE_TYPE_BAD_LENGTH", "message": "Must be between 1 and 5 in length."}]}
    seen: set[str] = set()
    for r, row in enumerate(rows):
        buttons = row.get("components") or []
        if len(buttons) > BUTTONS_PER_ROW:
            errors[f"components.{r}.components"] = {"_errors": [{"code": "BASE_TYPE_BAD_LENGTH"}]}
        for b, button in enumerate(buttons):
            label, custom_id = str(button.get("label") or ""), str(button.get("custom_id") or "")
            if len(label) > LABEL_LIMIT:
                errors[f"components.{r}.components.{b}.label"] = {"_errors": [{"code": "BASE_TYPE_MAX_LENGTH"}]}
            if len(custom_id) > CUSTOM_ID_LIMIT:
                errors[f"components.{r}.components.{b}.custom_id"] = {"_errors": [{"code": "BASE_TYPE_MAX_LENGTH"}]}
            if custom_id in seen:
                errors[f"components.{r}.components.{b}.custom_id"] = {"_errors": [{"code": "COMPONENT_CUSTOM_ID_DUPLICATED"}]}
            seen.add(custom_id)
    return errors


# --- discord.Message objects for pure-function tests ---------------------------------------------


def build_message(data: dict[str, Any]) -> discord.Message:
    """The ``discord.Message`` discord.py's gateway parser builds from a MESSAGE_CREATE payload, with the
    guild (its channel and thread) cached as after GUILD_CREATE."""
    state = _state()
    channel, _ = state._get_guild_channel(data)  # type: ignore[arg-type]
    return discord.Message(state=state, channel=channel, data=data)  # type: ignore[arg-type]


def _state() -> ConnectionState[Any]:
    client = discord.Client(intents=discord.Intents(guilds=True, guild_messages=True, dm_messages=True))
    state = client._connection
    state.user = discord.ClientUser(state=state, data=BOT_USER)  # type: ignore[arg-type]
    state._add_guild(discord.Guild(data=guild_payload(), state=state))  # type: ignore[arg-type]
    return state


def build_interaction(data: dict[str, Any]) -> discord.Interaction[Any]:
    """The ``discord.Interaction`` discord.py builds from an INTERACTION_CREATE payload."""
    return discord.Interaction(data=data, state=_state())  # type: ignore[arg-type]
