"""A fake Telegram Bot API server: getMe, long-polled getUpdates, sendMessage and friends.

Point python-telegram-bot at ``fake.url`` (``platforms.telegram.api_base_url``); queue updates with
:meth:`FakeTelegram.push` and assert on the recorded calls.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import time
from typing import Any

from aiohttp import web

from tests.fakes.server import Call, CallLog, LoopbackServer

TOKEN = "123456:TEST-token"
BOT_ID = 123456
BOT_USERNAME = "rapport_bot"
BOT_USER = {"id": BOT_ID, "is_bot": True, "first_name": "Rapport", "username": BOT_USERNAME}
JSON_PARAMS = ("reply_markup", "reply_parameters", "allowed_updates", "link_preview_options")
LONG_POLL_CAP = 0.2  # seconds a getUpdates call is held open at most, so shutdown stays quick


class FakeTelegram:
    def __init__(self) -> None:
        self.log = CallLog()
        self._updates: list[dict[str, Any]] = []
        self._arrived = asyncio.Condition()
        self._message_ids = itertools.count(9000)
        self._flooded = 0
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

    def flood(self, times: int) -> None:
        """Answer the next ``times`` sendMessage calls with 429 flood control, ``retry_after`` 1 (Telegram's least)."""
        self._flooded = times

    async def push(self, update: dict[str, Any]) -> None:
        """Queue an update for the next getUpdates."""
        async with self._arrived:
            self._updates.append(update)
            self._arrived.notify_all()

    async def _method(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        if request.match_info["token"] != TOKEN:
            return web.json_response({"ok": False, "error_code": 401, "description": "Unauthorized"}, status=401)
        params = await _params(request)
        if method != "getUpdates":
            await self.log.record(Call(method if not (method == "sendMessage" and self._flooded) else "flooded", params))
        match method:
            case "getMe":
                return _ok({**BOT_USER, "can_join_groups": True, "can_read_all_group_messages": False,
                            "supports_inline_queries": False})
            case "getUpdates":
                return _ok(await self._poll(int(params.get("offset") or 0), float(params.get("timeout") or 0)))
            case "sendMessage" if self._flooded > 0:
                self._flooded -= 1
                return web.json_response({"ok": False, "error_code": 429, "description": "Too Many Requests: retry after 1",
                                          "parameters": {"retry_after": 1}}, status=429)
            case "sendMessage":
                chat_id = int(params["chat_id"])
                return _ok({"message_id": next(self._message_ids), "date": int(time.time()), "from": BOT_USER,
                            "chat": {"id": chat_id, "type": "private" if chat_id > 0 else "supergroup"},
                            "text": params.get("text", "")})
            case "answerCallbackQuery" | "setWebhook" | "deleteWebhook":
                return _ok(True)
        return web.json_response({"ok": False, "error_code": 404, "description": "Not Found"}, status=404)

    async def _poll(self, offset: int, timeout: float) -> list[dict[str, Any]]:
        def pending() -> list[dict[str, Any]]:
            return [u for u in self._updates if u["update_id"] >= offset]

        async with self._arrived:
            if not pending() and timeout > 0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._arrived.wait_for(lambda: bool(pending())), min(timeout, LONG_POLL_CAP))
            return pending()


async def _params(request: web.Request) -> dict[str, Any]:
    if request.content_type == "application/json":
        params = await request.json()
    else:
        params = dict(await request.post())
    for key in JSON_PARAMS:
        if isinstance(params.get(key), str):
            params[key] = json.loads(params[key])
    return params


def _ok(result: object) -> web.Response:
    return web.json_response({"ok": True, "result": result})


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


def callback_query(data: str, message: dict[str, Any], *, user: dict[str, Any] = CUSTOMER) -> dict[str, Any]:
    """``user`` clicked the inline button carrying ``data`` under the bot's ``message``."""
    return {"update_id": next(_update_ids), "callback_query": {
        "id": f"cq-{next(_update_ids)}", "from": user, "chat_instance": "-88123", "data": data, "message": message}}
