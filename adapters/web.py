"""The web process's HTTP surface: Slack's Events API, Telegram's webhook and a health check (Starlette).

Routes only move bytes: each platform adapter checks signatures, parses and answers. This module caps
request bodies (413 above :data:`MAX_BODY_BYTES`, before reading more than that) and turns an
unexpected failure into a logged 503, so the platform redelivers; the engine's inbox released the
failed message, so the redelivery is answered once.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from adapters.slack import SlackAdapter
from adapters.telegram import TelegramAdapter

__all__ = ["MAX_BODY_BYTES", "create_web_app"]

MAX_BODY_BYTES = 1_000_000
SLACK_PATH = "/slack/events"
TELEGRAM_PATH = "/telegram/webhook"

log = logging.getLogger("rapport.web")


class BodyTooLarge(Exception):
    pass


async def read_body(request: Request, limit: int) -> bytes:
    """The request body, refusing (BodyTooLarge) as soon as it passes ``limit`` bytes."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise BodyTooLarge
    received = bytearray()
    async for chunk in request.stream():
        received += chunk
        if len(received) > limit:
            raise BodyTooLarge
    return bytes(received)


Endpoint = Callable[[Request], Awaitable[Response]]


def _guarded(name: str, endpoint: Endpoint) -> Endpoint:
    async def guarded(request: Request) -> Response:
        try:
            return await endpoint(request)
        except BodyTooLarge:
            return PlainTextResponse("payload too large", status_code=413)
        except Exception:
            log.exception("%s request failed (path=%s, length=%s)", name, request.url.path,
                          request.headers.get("content-length"))
            return PlainTextResponse("temporarily unavailable", status_code=503, headers={"Retry-After": "5"})

    return guarded


def create_web_app(
    *, slack: SlackAdapter | None = None, telegram: TelegramAdapter | None = None, max_body: int = MAX_BODY_BYTES
) -> Starlette:
    """``GET /healthz`` always; ``POST /slack/events`` with a Slack adapter in HTTP mode; ``POST
    /telegram/webhook`` with a Telegram adapter in webhook mode. Adapters must be started (or, for Slack,
    bound) by the caller."""
    served = {name: adapter.mode for name, adapter in (("slack", slack), ("telegram", telegram)) if adapter}

    async def healthz(request: Request) -> Response:
        return JSONResponse({"status": "ok", "platforms": served})

    routes = [Route("/healthz", healthz, methods=["GET"])]
    if slack is not None:
        slack_adapter = slack

        async def slack_events(request: Request) -> Response:
            body = await read_body(request, max_body)
            answer = await slack_adapter.handle_http(body, dict(request.headers), request.url.query)
            return Response(answer.body, status_code=answer.status, headers=answer.headers)

        routes.append(Route(SLACK_PATH, _guarded("slack", slack_events), methods=["POST"]))
    if telegram is not None:
        telegram_adapter = telegram

        async def telegram_webhook(request: Request) -> Response:
            body = await read_body(request, max_body)
            answer = await telegram_adapter.handle_webhook(body, dict(request.headers))
            return PlainTextResponse(answer.body, status_code=answer.status)

        routes.append(Route(TELEGRAM_PATH, _guarded("telegram", telegram_webhook), methods=["POST"]))
    return Starlette(routes=routes)
