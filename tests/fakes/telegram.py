"""A fake Telegram Bot API server: getMe, long-polled getUpdates, sendMessage, sendDocument and friends.

Point python-telegram-bot at ``fake.url`` (``platforms.telegram.api_base_url``); queue updates with
:meth:`FakeTelegram.push` and assert on the recorded calls. Like the real API it refuses what breaks its
limits (400 ``Bad Request: message is too long`` above 4,096 UTF-16 units of text, a caption above 1,024,
callback data above 64 bytes), refuses users who never started the bot (403), and answers injected faults
(:meth:`FakeTelegram.fault`: 5xx, 429 with ``retry_after``, 403 blocked…). Refused calls are recorded as
``refused:<method>``, so ``named("sendMessage")`` is exactly what a customer would see.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import time
from dataclasses import dataclass
from typing import Any

from aiohttp import web
from multidict import MultiDictProxy

from tests.fakes.server import Call, CallLog, LoopbackServer

TOKEN = "123456:TEST-token"
BOT_ID = 123456
BOT_USERNAME = "rapport_bot"
BOT_USER = {"id": BOT_ID, "is_bot": True, "first_name": "Rapport", "username": BOT_USERNAME}
JSON_PARAMS = ("reply_markup", "reply_parameters", "allowed_updates", "link_preview_options")
LONG_POLL_CAP = 0.2  # seconds a getUpdates call is held open at most, so shutdown stays quick
TEXT_LIMIT, CAPTION_LIMIT, CALLBACK_DATA_LIMIT = 4096, 1024, 64
SENDING = ("sendMessage", "sendDocument")


@dataclass
class Fault:
    method: str
    status: int
    description: str
    times: int
    retry_after: int | None = None
    after: int = 0  # calls of ``method`` let through before the fault starts


class FakeTelegram:
    def __init__(self) -> None:
        self.log = CallLog()
        self.not_started: set[int] = set()  # users who never opened a private chat with the bot
        self._updates: list[dict[str, Any]] = []
        self._arrived = asyncio.Condition()
        self._message_ids = itertools.count(9000)
        self._faults: list[Fault] = []
        self.messages: dict[tuple[int, int], str] = {}  # (chat, message id) → the text it shows now
        self.deleted: set[tuple[int, int]] = set()  # messages deleted in the client
        self.polled: list[dict[str, Any]] = []  # the parameters of every getUpdates (offset, allowed_updates…)
        app = web.Application(client_max_size=2**22)
        app.router.add_route("*", "/bot{token}/{method}", self._method)
        self._server = LoopbackServer(app)

    async def __aenter__(self) -> FakeTelegram:
        await self._server.__aenter__()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._server.__aexit__(*exc)

    @property
    def url(self) -> str:
        return self._server.url

    def flood(self, times: int, retry_after: int = 1) -> None:
        """Answer the next ``times`` sendMessage calls with 429 flood control (``retry_after`` 1 is Telegram's least)."""
        self.fault("sendMessage", 429, f"Too Many Requests: retry after {retry_after}", times, retry_after)

    def fault(self, method: str, status: int, description: str, times: int = 1, retry_after: int | None = None,
              after: int = 0) -> None:
        """Answer ``times`` calls of ``method``, after letting ``after`` through, with this error as Telegram
        words it."""
        self._faults.append(Fault(method, status, description, times, retry_after, after))

    async def push(self, update: dict[str, Any]) -> None:
        """Queue an update for the next getUpdates (any JSON value: the fake hands out what it is given)."""
        async with self._arrived:
            self._updates.append(update)
            self._arrived.notify_all()

    async def _method(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        if request.match_info["token"] != TOKEN:
            return _error(401, "Unauthorized")
        params = await _params(request)
        if method == "getUpdates":
            self.polled.append(params)
            return _ok(await self._poll(int(params.get("offset") or 0), float(params.get("timeout") or 0)))
        refusal = self._fault(method) or _refusal(method, params, self.not_started)
        if refusal is not None:
            await self.log.record(Call(f"refused:{method}", params))
            if refusal.status == 429:
                await self.log.record(Call("flooded", params))
            return _error(refusal.status, refusal.description, refusal.retry_after)
        await self.log.record(Call(method, params))
        match method:
            case "getMe":
                return _ok({**BOT_USER, "can_join_groups": True, "can_read_all_group_messages": False,
                            "supports_inline_queries": False})
            case "sendMessage" | "sendDocument":
                return _ok(self._sent(method, params))
            case "editMessageText":
                where = (int(params["chat_id"]), int(params["message_id"]))
                if where in self.deleted or where not in self.messages:
                    await self.log.record(Call("refused:editMessageText", params))
                    return _error(400, "Bad Request: message to edit not found")
                if self.messages[where] == params.get("text") and not params.get("reply_markup"):
                    return _error(400, "Bad Request: message is not modified: specified new message content and "
                                       "reply markup are exactly the same as a current content and reply markup")
                self.messages[where] = str(params.get("text", ""))
                return _ok({"message_id": where[1], "date": int(time.time()), "from": BOT_USER, "edit_date": int(time.time()),
                            "chat": {"id": where[0], "type": "private" if where[0] > 0 else "supergroup"},
                            "text": self.messages[where]})
            case "answerCallbackQuery" | "setWebhook" | "deleteWebhook":
                return _ok(True)
        return _error(404, "Not Found")

    def _fault(self, method: str) -> Fault | None:
        for fault in self._faults:
            if fault.method == method and fault.times > 0:
                if fault.after > 0:
                    fault.after -= 1
                    return None
                fault.times -= 1
                return fault
        return None

    def _sent(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
        chat_id = int(params["chat_id"])
        message: dict[str, Any] = {"message_id": next(self._message_ids), "date": int(time.time()), "from": BOT_USER,
                                   "chat": {"id": chat_id, "type": "private" if chat_id > 0 else "supergroup"}}
        if method == "sendMessage":
            message["text"] = params.get("text", "")
            self.messages[(chat_id, message["message_id"])] = message["text"]
        else:
            document = params["document"]
            message["document"] = {"file_id": f"doc-{message['message_id']}", "file_unique_id": "u",
                                   "file_name": document["filename"], "file_size": len(document["content"])}
        return message

    async def _poll(self, offset: int, timeout: float) -> list[Any]:
        def pending() -> list[Any]:
            return [u for u in self._updates if _update_id(u) >= offset]

        async with self._arrived:
            if not pending() and timeout > 0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._arrived.wait_for(lambda: bool(pending())), min(timeout, LONG_POLL_CAP))
            return pending()


def _update_id(update: Any) -> int:
    value = update.get("update_id") if isinstance(update, dict) else None
    return value if isinstance(value, int) else 0


def _refusal(method: str, params: dict[str, Any], not_started: set[int]) -> Fault | None:
    """What the real Bot API refuses of a send: over-limit text, caption or button data; a user who never
    started the bot."""
    if method not in SENDING:
        return None
    if int(params.get("chat_id", 0)) in not_started:
        return Fault(method, 403, "Forbidden: bot can't initiate conversation with a user", 1)
    if method == "sendMessage":
        text = str(params.get("text", ""))
        if not text.strip():
            return Fault(method, 400, "Bad Request: message text is empty", 1)
        if _units(text) > TEXT_LIMIT:
            return Fault(method, 400, "Bad Request: message is too long", 1)
    if method == "sendDocument" and _units(str(params.get("caption", ""))) > CAPTION_LIMIT:
        return Fault(method, 400, "Bad Request: message caption is too long", 1)
    rows = (params.get("reply_markup") or {}).get("inline_keyboard", [])
    if any(len(str(b.get("callback_data", "")).encode()) > CALLBACK_DATA_LIMIT for row in rows for b in row):
        return Fault(method, 400, "Bad Request: BUTTON_DATA_INVALID", 1)
    return None


def _units(text: str) -> int:
    """Length in UTF-16 code units, as Telegram counts it."""
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


async def _params(request: web.Request) -> dict[str, Any]:
    if request.content_type == "application/json":
        params = await request.json()
    elif request.content_type.startswith("multipart/"):
        params = _form(await request.post())
    else:
        params = dict(await request.post())
    for key in JSON_PARAMS:
        if isinstance(params.get(key), str):
            params[key] = json.loads(params[key])
    return params


def _form(form: MultiDictProxy[Any]) -> dict[str, Any]:
    """A multipart body: files as ``{"filename", "content" (bytes), "content_type"}``, other fields as text."""
    params: dict[str, Any] = {}
    for key, value in form.items():
        if isinstance(value, web.FileField):
            params[key] = {"filename": value.filename, "content": value.file.read(), "content_type": value.content_type}
        else:
            params[key] = value
    return params


def _ok(result: object) -> web.Response:
    return web.json_response({"ok": True, "result": result})


def _error(status: int, description: str, retry_after: int | None = None) -> web.Response:
    body: dict[str, Any] = {"ok": False, "error_code": status, "description": description}
    if retry_after is not None:
        body["parameters"] = {"retry_after": retry_after}
    return web.json_response(body, status=status)


# --- updates as Telegram sends them --------------------------------------------------------------

_update_ids = itertools.count(700000)
CUSTOMER = {"id": 555001, "is_bot": False, "first_name": "Ana", "last_name": "Silva", "username": "anasilva",
            "language_code": "en"}
GROUP = {"id": -1001234567890, "title": "Northwind Customers", "type": "supergroup"}


def private_message(text: str, *, message_id: int = 41, user: dict[str, Any] = CUSTOMER, **extra: Any) -> dict[str, Any]:
    chat = {"id": user["id"], "first_name": user["first_name"], "type": "private"}
    message = {"message_id": message_id, "from": user, "chat": chat, "date": int(time.time()), "text": text, **extra}
    if text.startswith("/"):
        message["entities"] = [{"offset": 0, "length": len(text.split()[0]), "type": "bot_command"}]
    return {"update_id": next(_update_ids), "message": message}


def group_message(text: str, *, message_id: int = 77, user: dict[str, Any] = CUSTOMER, **extra: Any) -> dict[str, Any]:
    message = {"message_id": message_id, "from": user, "chat": GROUP, "date": int(time.time()), "text": text, **extra}
    at = text.find(f"@{BOT_USERNAME}")
    if at >= 0:
        message["entities"] = [{"offset": at, "length": len(BOT_USERNAME) + 1, "type": "mention"}]
    return {"update_id": next(_update_ids), "message": message}


def message_reaction(message_id: int, emoji: str, *, chat: dict[str, Any] | None = None,
                     user: dict[str, Any] = CUSTOMER, old: tuple[str, ...] = ()) -> dict[str, Any]:
    """``user`` changed their reaction on ``message_id`` to ``emoji`` (from ``old``)."""
    chat = chat or {"id": user["id"], "first_name": user["first_name"], "type": "private"}
    return {"update_id": next(_update_ids), "message_reaction": {
        "chat": chat, "message_id": message_id, "user": user, "date": int(time.time()),
        "old_reaction": [{"type": "emoji", "emoji": e} for e in old],
        "new_reaction": [{"type": "emoji", "emoji": emoji}] if emoji else []}}


def callback_query(data: str, message: dict[str, Any], *, user: dict[str, Any] = CUSTOMER) -> dict[str, Any]:
    """``user`` clicked the inline button carrying ``data`` under the bot's ``message``."""
    return {"update_id": next(_update_ids), "callback_query": {
        "id": f"cq-{next(_update_ids)}", "from": user, "chat_instance": "-88123", "data": data, "message": message}}
