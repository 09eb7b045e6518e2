"""The web process's HTTP surface: Slack's Events API, Telegram's webhook and a health check (Starlette).

Routes only move bytes: each platform adapter checks signatures, parses and answers. This module caps
request bodies (413 above :data:`MAX_BODY_BYTES`, before reading more than that) and sorts failures:
an outage (database, Redis, a server we call) is a logged 503, so the platform redelivers once we are
back (the engine's inbox released the failed message, so the redelivery is answered once); anything
else a request triggered is a 400 logged by ids only. ``GET /healthz`` reports each dependency,
``GET /metrics`` this process's Prometheus metrics.
"""

from __future__ import annotations

import asyncio
import logging
import traceback
from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Mount, Route

from bot.errors import find_outage
from bot.metrics import CONTENT_TYPE, METRICS

if TYPE_CHECKING:  # the caller builds the adapters it enabled; the web app never loads a platform's SDK itself
    from adapters.slack import SlackAdapter
    from adapters.telegram import TelegramAdapter
    from bot.admin import AdminConsole

__all__ = ["MAX_BODY_BYTES", "HealthCheck", "create_web_app"]

MAX_BODY_BYTES = 1_000_000
# Each dependency check has its own, shorter timeout; this bounds the whole report (a load balancer's
# health probe gives up after a few seconds, and a hung check must read as "down", not as silence).
HEALTH_TIMEOUT_SECONDS = 5.0
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
# ``{"status": "ok" | "down", "checks": {name: {"status": ..., ...}}}``, e.g. ``Runtime.health``.
HealthCheck = Callable[[], Awaitable[Mapping[str, Any]]]


def _guarded(name: str, endpoint: Endpoint) -> Endpoint:
    """Run ``endpoint``, answering 413 for an oversized body, 503 for an outage and 400 for any other failure.

    Why 400 and not 5xx for an unexpected exception: the request was authentic (signatures are checked
    before anything can fail), so what made our code fail is the body itself, and it will fail the same
    way on every redelivery. A 5xx with Retry-After tells Slack and Telegram (and our own alerts) that
    trying again can succeed, and Telegram keeps redelivering a poison update; a 400 says the request is
    at fault, so retries end and outage alarms stay meaningful. Only errors that say a dependency is
    unreachable (``find_outage``: database, Redis, connection and timeout errors) are answered 503.
    """

    async def guarded(request: Request) -> Response:
        length = request.headers.get("content-length")
        try:
            return await endpoint(request)
        except BodyTooLarge:
            return PlainTextResponse("payload too large", status_code=413)
        except RecursionError:
            # json.loads (or a walk over what it returned) on absurdly deep nesting: a bad body, not a bug.
            log.warning("%s request nested too deeply (path=%s, length=%s)", name, request.url.path, length)
            return PlainTextResponse("payload nested too deeply", status_code=400)
        except Exception as error:
            outage = find_outage(error)
            if outage is not None:
                log.warning("%s request failed: %s (path=%s, length=%s)", name, outage, request.url.path, length)
                return PlainTextResponse("temporarily unavailable", status_code=503, headers={"Retry-After": "5"})
            # Ids only: the exception's message and the body may quote what the customer wrote.
            log.error("%s request failed on its input (path=%s, length=%s, error=%s)\n%s", name, request.url.path,
                      length, type(error).__name__, "".join(traceback.format_tb(error.__traceback__)))
            return PlainTextResponse("request could not be processed", status_code=400)

    return guarded


def _health_endpoint(served: dict[str, str], health: HealthCheck | None) -> Endpoint:
    """``GET /healthz``: the platforms served and, given a health check, each dependency's status;
    200 when all are ok, 503 when one is down or the check itself fails or hangs."""

    async def healthz(request: Request) -> Response:
        if health is None:
            return JSONResponse({"status": "ok", "platforms": served})
        try:
            report = dict(await asyncio.wait_for(health(), HEALTH_TIMEOUT_SECONDS))
        except Exception as error:  # a failing health check is itself the finding
            log.warning("health check failed: %s", type(error).__name__, exc_info=not isinstance(error, TimeoutError))
            report = {"status": "down", "error": "health check failed" if not isinstance(error, TimeoutError)
                      else f"no answer within {HEALTH_TIMEOUT_SECONDS:.0f}s"}
        body = {**report, "platforms": served}
        return JSONResponse(body, status_code=200 if report.get("status") == "ok" else 503)

    return healthz


def create_web_app(
    *, slack: SlackAdapter | None = None, telegram: TelegramAdapter | None = None, max_body: int = MAX_BODY_BYTES,
    health: HealthCheck | None = None, admin: AdminConsole | None = None,
) -> Starlette:
    """``GET /healthz`` always (each dependency's status when ``health`` is given, else the platforms
    alone); ``GET /metrics`` always (Prometheus); ``POST /slack/events`` with a Slack adapter in HTTP
    mode; ``POST /telegram/webhook`` with a Telegram adapter in webhook mode; the admin console under ``/admin`` when ``admin`` is given (it
    answers for itself, on or off). Adapters must be started (or, for Slack, bound) by the caller."""
    served = {name: adapter.mode for name, adapter in (("slack", slack), ("telegram", telegram)) if adapter}
    healthz = _health_endpoint(served, health)

    async def metrics(request: Request) -> Response:
        # This process's counters (no ids in them, see bot.metrics), in Prometheus's text format.
        return Response(METRICS.render(), media_type=CONTENT_TYPE)

    routes = [Route("/healthz", healthz, methods=["GET"]), Route("/metrics", metrics, methods=["GET"])]
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
    if admin is not None:
        routes.append(Mount("/admin", app=admin.app()))
    return Starlette(routes=routes)
