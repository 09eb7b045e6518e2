"""A fake Slack: the Web API methods Rapport calls, a Socket Mode websocket, and a request signer.

Point the real ``AsyncWebClient`` at ``fake.api_url`` (``platforms.slack.api_base_url``).
``apps.connections.open`` hands out the fake's own websocket, where :meth:`FakeSlack.push_event`
delivers Events API envelopes the way Socket Mode does and records the client's acks.

Like real Slack, the fake refuses messages past Block Kit's limits (``invalid_blocks``, ``msg_too_long``),
and serves the three steps of ``files_upload_v2`` (the upload URL points back at the fake; the bytes
received are in :attr:`FakeSlack.uploads`). :meth:`FakeSlack.fail` makes a method answer with an error.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import itertools
import json
import time
import uuid
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

from aiohttp import WSMsgType, web

from tests.fakes.server import Call, CallLog, LoopbackServer

TEAM = "T0HOME"
OTHER_TEAM = "T0OTHER"
BOT_USER = "U0BOT"
BOT_ID = "B0BOT"
SIGNING_SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
BOT_TOKEN = "xoxb-test"
APP_TOKEN = "xapp-test"


# Block Kit limits real Slack enforces (docs.slack.dev/reference/block-kit).
MAX_BLOCKS = 50
MAX_TEXT = 40_000
MAX_SECTION_TEXT = 3000
MAX_CONTEXT_ELEMENTS = 10
MAX_CONTEXT_TEXT = 3000
MAX_ACTIONS_ELEMENTS = 25
MAX_BUTTON_TEXT = 75
MAX_BUTTON_VALUE = 2000
MAX_ID = 255
POSTING = ("chat.postMessage", "chat.postEphemeral", "chat.update")


def block_kit_problem(params: dict[str, Any]) -> str:
    """The error real Slack answers for these message parameters, or "" when it would accept them."""
    text, blocks = params.get("text"), params.get("blocks")
    if isinstance(text, str) and len(text) > MAX_TEXT:
        return "msg_too_long"
    if not text and not blocks:
        return "no_text"
    if blocks is None:
        return ""
    if not isinstance(blocks, list) or len(blocks) > MAX_BLOCKS:
        return "invalid_blocks"
    block_ids = [b.get("block_id") for b in blocks if isinstance(b, dict) and b.get("block_id")]
    if len(block_ids) != len(set(block_ids)) or any(len(i) > MAX_ID for i in block_ids):
        return "invalid_blocks"
    return "" if all(isinstance(b, dict) and _block_ok(b) for b in blocks) else "invalid_blocks"


def _block_ok(block: dict[str, Any]) -> bool:
    elements = block.get("elements") or []
    match block.get("type"):
        case "section":
            return 0 < len(block.get("text", {}).get("text", "")) <= MAX_SECTION_TEXT
        case "context":
            return 0 < len(elements) <= MAX_CONTEXT_ELEMENTS and all(
                0 < len(e.get("text", "")) <= MAX_CONTEXT_TEXT for e in elements)
        case "actions":
            return 0 < len(elements) <= MAX_ACTIONS_ELEMENTS and all(_button_ok(e) for e in elements)
    return True


def _button_ok(element: dict[str, Any]) -> bool:
    if element.get("type") != "button":
        return True
    return (0 < len(element.get("text", {}).get("text", "")) <= MAX_BUTTON_TEXT
            and len(element.get("value", "")) <= MAX_BUTTON_VALUE
            and 0 < len(element.get("action_id", "")) <= MAX_ID)


@dataclass
class Failure:
    """How the next calls of one method fail: HTTP ``status`` with Slack ``error`` (and Retry-After)."""

    times: int
    status: int
    error: str
    retry_after: str | None


class FakeSlack:
    def __init__(self) -> None:
        self.log = CallLog()
        self.acks: list[str] = []
        self._failures: dict[str, Failure] = {}
        self.uploads: dict[str, bytes] = {}  # file id → the bytes POSTed to its upload URL
        self._pending_uploads: dict[str, str] = {}  # file id → filename, until completed
        self._file_ids = itertools.count(1)
        self._socket: web.WebSocketResponse | None = None
        self._connected = asyncio.Event()
        self._acked = asyncio.Condition()
        self._ts = itertools.count(1)
        self.posted_ts: list[str] = []  # the ts answered to each chat.postMessage, in call order
        # What a channel's history holds: (channel, thread_ts or its own ts, message) of each post.
        self.history: list[tuple[str, str, dict[str, Any]]] = []
        self.deleted: set[tuple[str, str]] = set()  # (channel, ts) of messages deleted in Slack's UI
        app = web.Application(client_max_size=2**22)
        app.router.add_post("/api/{method}", self._api)
        app.router.add_get("/api/{method}", self._api)  # the SDK reads history with GET
        app.router.add_post("/upload/{file_id}", self._upload)
        app.router.add_get("/socket", self._websocket)
        self._server = LoopbackServer(app)

    async def __aenter__(self) -> FakeSlack:
        await self._server.__aenter__()
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._socket is not None:
            await self._socket.close()
        await self._server.__aexit__(*exc)

    @property
    def api_url(self) -> str:
        return f"{self._server.url}/api/"

    def rate_limit(self, times: int, retry_after: int = 0) -> None:
        """Answer the next ``times`` chat.postMessage calls with HTTP 429 and ``Retry-After``."""
        self.fail("chat.postMessage", times, status=429, error="ratelimited", retry_after=retry_after)

    def fail(self, method: str, times: int = 1, *, status: int = 200, error: str = "internal_error",
             retry_after: int | None = None) -> None:
        """Answer the next ``times`` calls of ``method`` with HTTP ``status`` and ``{"ok": false, "error": ...}``
        (a 5xx gets an HTML body, as Slack's edge sends). The failed calls are logged as ``failed:<method>``."""
        self._failures[method] = Failure(times, status, error, None if retry_after is None else str(retry_after))

    # --- Web API ---

    async def _api(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        raw = await request.text()
        if request.content_type == "application/json":
            params = json.loads(raw) if raw else {}
        else:
            params = dict(parse_qsl(raw, keep_blank_values=True))
        params = {**request.query, **params}  # the SDK sends some methods' arguments in the query string
        for key in ("blocks",):
            if isinstance(params.get(key), str):
                params[key] = json.loads(params[key])
        failure = self._failures.get(method)
        if failure is not None and failure.times > 0:
            failure.times -= 1
            await self.log.record(Call("rate_limited" if failure.status == 429 else f"failed:{method}", params))
            headers = {"Retry-After": failure.retry_after} if failure.retry_after is not None else {}
            if failure.status >= 500:
                return web.Response(text="<html>Bad Gateway</html>", status=failure.status, content_type="text/html")
            return web.json_response({"ok": False, "error": failure.error}, status=failure.status, headers=headers)
        authorization = request.headers.get("Authorization", "")
        await self.log.record(Call(method, params, {"authorization": authorization}))
        expected = APP_TOKEN if method == "apps.connections.open" else BOT_TOKEN
        if authorization != f"Bearer {expected}":
            return web.json_response({"ok": False, "error": "invalid_auth"})
        if method in POSTING and (problem := block_kit_problem(params)):
            return web.json_response({"ok": False, "error": problem})
        match method:
            case "auth.test":
                return web.json_response({"ok": True, "url": "https://home.slack.example/", "team": "Home",
                                          "user": "rapport", "team_id": TEAM, "user_id": BOT_USER, "bot_id": BOT_ID})
            case "chat.postMessage":
                ts = f"{int(time.time())}.{next(self._ts):06d}"
                self.posted_ts.append(ts)
                metadata = params.get("metadata")
                message = {"type": "message", "text": params.get("text"), "ts": ts, "bot_id": BOT_ID,
                           "thread_ts": params.get("thread_ts") or ts,
                           **({"metadata": json.loads(metadata) if isinstance(metadata, str) else metadata}
                              if metadata else {})}
                self.history.append((str(params.get("channel")), str(params.get("thread_ts") or ts), message))
                return web.json_response({"ok": True, "channel": params.get("channel"), "ts": ts, "message": message})
            case "conversations.replies" | "conversations.history":
                channel, thread = str(params.get("channel")), str(params.get("ts") or "")
                with_metadata = str(params.get("include_all_metadata", "")).lower() in {"1", "true"}
                found = [{k: v for k, v in m.items() if k != "metadata" or with_metadata}
                         for c, t, m in self.history if c == channel and (not thread or t == thread)]
                return web.json_response({"ok": True, "messages": found, "has_more": False})
            case "chat.postEphemeral":
                return web.json_response({"ok": True, "message_ts": f"{int(time.time())}.{next(self._ts):06d}"})
            case "chat.update":
                if (str(params.get("channel")), str(params.get("ts"))) in self.deleted:
                    return web.json_response({"ok": False, "error": "message_not_found"})
                return web.json_response({"ok": True, "channel": params.get("channel"), "ts": params.get("ts")})
            case "conversations.open":
                users = str(params.get("users", ""))
                if not users or "," in users:
                    return web.json_response({"ok": False, "error": "user_not_found"})
                return web.json_response({"ok": True, "channel": {"id": f"D0{users.removeprefix('U0')}"}})
            case "files.getUploadURLExternal":
                file_id = f"F0UP{next(self._file_ids):04d}"
                self._pending_uploads[file_id] = str(params.get("filename", ""))
                return web.json_response({"ok": True, "file_id": file_id,
                                          "upload_url": f"{self._server.url}/upload/{file_id}"})
            case "files.completeUploadExternal":
                files = json.loads(params.get("files", "[]"))
                if not files or any(f.get("id") not in self.uploads for f in files):
                    return web.json_response({"ok": False, "error": "file_not_found"})
                if not params.get("channel_id") and not params.get("channels"):
                    return web.json_response({"ok": False, "error": "invalid_channel"})
                return web.json_response({"ok": True, "files": [
                    {"id": f["id"], "name": self._pending_uploads.pop(f["id"], ""), "title": f.get("title")}
                    for f in files]})
            case "apps.connections.open":
                return web.json_response({"ok": True, "url": f"ws://127.0.0.1:{self._server.port}/socket"})
        return web.json_response({"ok": False, "error": "unknown_method"})

    async def _upload(self, request: web.Request) -> web.Response:
        """Step 2 of files_upload_v2: the file's bytes, POSTed to the URL step 1 handed out."""
        file_id = request.match_info["file_id"]
        if file_id not in self._pending_uploads:
            return web.Response(text="unknown upload", status=404, content_type="text/plain")
        self.uploads[file_id] = await request.read()
        await self.log.record(Call("upload", {"file_id": file_id, "size": len(self.uploads[file_id])}))
        return web.Response(text=f"OK - {len(self.uploads[file_id])}", content_type="text/plain")

    # --- Socket Mode ---

    async def _websocket(self, request: web.Request) -> web.WebSocketResponse:
        socket = web.WebSocketResponse(autoping=True)
        await socket.prepare(request)
        self._socket = socket
        await socket.send_json({"type": "hello", "num_connections": 1, "debug_info": {"host": "fake"},
                                "connection_info": {"app_id": "A0APP"}})
        self._connected.set()
        async for message in socket:
            if message.type == WSMsgType.TEXT:
                envelope_id = json.loads(message.data).get("envelope_id")
                async with self._acked:
                    self.acks.append(envelope_id)
                    self._acked.notify_all()
        self._connected.clear()
        return socket

    async def push(self, kind: str, payload: dict[str, Any], retry_attempt: int = 0) -> str:
        """Deliver one Socket Mode envelope (``events_api`` or ``interactive``); returns its envelope id."""
        await asyncio.wait_for(self._connected.wait(), 10)
        assert self._socket is not None
        envelope_id = str(uuid.uuid4())
        await self._socket.send_json({
            "envelope_id": envelope_id, "type": kind, "payload": payload,
            "accepts_response_payload": False, "retry_attempt": retry_attempt,
            "retry_reason": "timeout" if retry_attempt else "",
        })
        return envelope_id

    async def wait_for_ack(self, envelope_id: str, timeout: float = 5.0) -> None:
        async with self._acked:
            await asyncio.wait_for(self._acked.wait_for(lambda: envelope_id in self.acks), timeout)


# --- payloads as Slack sends them ------------------------------------------------------------------


_event_ids = itertools.count(1)


def event_envelope(event: dict[str, Any], team: str = TEAM) -> dict[str, Any]:
    """An ``event_callback`` envelope around ``event``, as the Events API and Socket Mode deliver it."""
    return {
        "token": "legacy-verification-token",
        "team_id": team,
        "context_team_id": team,
        "api_app_id": "A0APP",
        "event": event,
        "type": "event_callback",
        "event_id": f"Ev{next(_event_ids):08d}",
        "event_time": int(time.time()),
        "authorizations": [{"enterprise_id": None, "team_id": team, "user_id": BOT_USER, "is_bot": True,
                            "is_enterprise_install": False}],
        "is_ext_shared_channel": False,
    }


def mention(text: str, *, user: str = "U0CUSTOMER", channel: str = "C0SUPPORT", ts: str = "1700000000.000100",
            thread_ts: str | None = None, user_team: str = TEAM) -> dict[str, Any]:
    event: dict[str, Any] = {
        "type": "app_mention", "user": user, "text": f"<@{BOT_USER}> {text}", "ts": ts, "channel": channel,
        "event_ts": ts, "team": user_team, "client_msg_id": str(uuid.uuid4()),
    }
    if user_team != TEAM:
        event["user_team"] = user_team
        event["source_team"] = user_team
    if thread_ts:
        event["thread_ts"] = thread_ts
    return event


def direct_message(text: str, *, user: str = "U0CUSTOMER", channel: str = "D0CUSTOMER",
                   ts: str = "1700000100.000200", **extra: Any) -> dict[str, Any]:
    return {"type": "message", "channel_type": "im", "user": user, "text": text, "ts": ts, "channel": channel,
            "event_ts": ts, "team": TEAM, "client_msg_id": str(uuid.uuid4()), **extra}


def button_click(message: dict[str, Any], action_id: str, value: str, *, user: str = "U0CUSTOMER",
                 channel: str = "C0SUPPORT", user_team: str = TEAM) -> dict[str, Any]:
    """A ``block_actions`` payload: ``user`` clicked button ``action_id`` on the bot ``message``."""
    now = f"{time.time():.6f}"
    return {
        "type": "block_actions",
        "user": {"id": user, "username": "customer", "name": "customer", "team_id": user_team},
        "api_app_id": "A0APP", "token": "legacy-verification-token",
        "container": {"type": "message", "message_ts": message["ts"], "channel_id": channel,
                      "is_ephemeral": False, "thread_ts": message.get("thread_ts")},
        "trigger_id": "1.2.3", "team": {"id": TEAM, "domain": "home"},
        "channel": {"id": channel, "name": "support"},
        "message": message,
        "response_url": "https://hooks.slack.example/actions/T0HOME/1/x",
        "actions": [{"action_id": action_id, "block_id": "b", "text": {"type": "plain_text", "text": "x"},
                     "value": value, "type": "button", "action_ts": now}],
    }


def reaction_added(reaction: str, channel: str, ts: str, *, user: str = "U0CUSTOMER",
                   item_user: str | None = BOT_USER) -> dict[str, Any]:
    """A ``reaction_added`` event: ``user`` put ``:reaction:`` on the message ``ts`` (written by ``item_user``)."""
    now = f"{time.time():.6f}"
    event: dict[str, Any] = {"type": "reaction_added", "user": user, "reaction": reaction,
                             "item": {"type": "message", "channel": channel, "ts": ts}, "event_ts": now}
    if item_user is not None:
        event["item_user"] = item_user
    return event


def signed_headers(body: bytes, *, secret: str = SIGNING_SECRET, timestamp: int | None = None,
                   retry_num: int | None = None, content_type: str = "application/json") -> dict[str, str]:
    """Headers Slack sends with an Events API request: ``v0`` HMAC-SHA256 signature over ``v0:ts:body``."""
    ts = str(int(time.time()) if timestamp is None else timestamp)
    digest = hmac.new(secret.encode(), f"v0:{ts}:".encode() + body, hashlib.sha256).hexdigest()
    headers = {"X-Slack-Request-Timestamp": ts, "X-Slack-Signature": f"v0={digest}", "Content-Type": content_type}
    if retry_num is not None:
        headers["X-Slack-Retry-Num"] = str(retry_num)
        headers["X-Slack-Retry-Reason"] = "http_timeout"
    return headers
