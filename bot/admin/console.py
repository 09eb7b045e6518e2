"""The admin console as one ASGI app, mounted by the web process under ``/admin``.

Build it with :meth:`AdminConsole.from_env` (``ADMIN_TOKEN`` from the environment) and pass it to
``adapters.web.create_web_app(admin=...)``. Without a token the console is off: ``/admin`` says how to
turn it on and every other path is 404, so an unconfigured deployment exposes nothing.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from jinja2 import Environment, PackageLoader, select_autoescape
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from bot.admin.auth import LOGIN_PATH, AdminGuard, LoginLimiter, SessionSigner
from bot.admin.queries import known_actions
from bot.admin.views import SECURITY_HEADERS, ConsoleViews

if TYPE_CHECKING:
    from bot.runtime import Runtime

__all__ = ["MIN_TOKEN_LENGTH", "AdminConsole"]

STATIC = Path(__file__).parent / "static"
TOKEN_VARIABLE = "ADMIN_TOKEN"
# A shared secret typed into a form: short ones fall to guessing even at five tries per five minutes.
MIN_TOKEN_LENGTH = 16


class AdminConsole:
    """The console over one Runtime. ``token`` None or empty: off."""

    def __init__(self, runtime: Runtime, token: str | None, *, limiter: LoginLimiter | None = None) -> None:
        token = (token or "").strip()
        if token and len(token) < MIN_TOKEN_LENGTH:
            from bot.errors import ConfigError

            raise ConfigError(f"{TOKEN_VARIABLE} is {len(token)} characters long",
                              fix=f"use at least {MIN_TOKEN_LENGTH} random characters, e.g. "
                                  "`python -c 'import secrets; print(secrets.token_urlsafe(32))'`")
        # The console counts unanswered turns by handler name: a renamed handler fails here, not silently.
        known_actions(runtime.engine.decide.registry.names)
        self.runtime = runtime
        self.enabled = bool(token)
        self._token = token
        self.limiter = limiter or LoginLimiter()

    @classmethod
    def from_env(cls, runtime: Runtime, env: Mapping[str, str] | None = None) -> AdminConsole:
        return cls(runtime, (os.environ if env is None else env).get(TOKEN_VARIABLE))

    def routes(self, views: ConsoleViews) -> list[BaseRoute]:
        """Every route of the console, paths relative to its mount. The guard protects all of them."""
        v = views
        return [
            Route("/", v.overview, methods=["GET"]),
            Route(LOGIN_PATH, v.login_form, methods=["GET"]),
            Route(LOGIN_PATH, v.login, methods=["POST"]),
            Route("/logout", v.logout, methods=["POST"]),
            Route("/conversations", v.conversations, methods=["GET"]),
            Route("/conversations/{ref:int}", v.conversation, methods=["GET"]),
            Route("/customers", v.customers, methods=["GET"]),
            Route("/customers/find", v.find_customers, methods=["POST"]),
            Route("/customers/{ref}", v.customer, methods=["GET"]),
            Route("/customers/{ref}/export.json", v.export, methods=["GET"]),
            Route("/customers/{ref}/forget", v.forget_form, methods=["GET"]),
            Route("/customers/{ref}/forget", v.forget, methods=["POST"]),
            Route("/customers/{ref}/memories/{memory}/delete", v.delete_memory, methods=["POST"]),
            Route("/handoffs", v.handoffs, methods=["GET"]),
            Route("/handoffs/{id:int}/claim", v.claim, methods=["POST"]),
            Route("/handoffs/{id:int}/resolve", v.resolve, methods=["POST"]),
            Route("/review", v.review, methods=["GET"]),
            Route("/review/{id:int}/approve", v.approve_item, methods=["POST"]),
            Route("/review/{id:int}/reject", v.reject_item, methods=["POST"]),
            Route("/knowledge", v.knowledge, methods=["GET"]),
            Route("/knowledge/ingest", v.ingest, methods=["POST"]),
            Mount("/static", app=StaticFiles(directory=STATIC), name="static"),
        ]

    def app(self) -> Starlette:
        """The ASGI app to mount at ``/admin``."""
        if not self.enabled:
            return _off_app()
        views = ConsoleViews(self.runtime, self._token, SessionSigner(self._token), self.limiter)
        routes = self.routes(views)
        guard = Middleware(AdminGuard, token=self._token, signer=SessionSigner(self._token), limiter=self.limiter)
        return Starlette(routes=routes, middleware=[guard], exception_handlers={404: _not_found})


async def _not_found(request: Request, exc: Exception) -> Response:
    return HTMLResponse("<!doctype html><title>Not found</title><p>Nothing here.</p>", status_code=404,
                        headers=SECURITY_HEADERS)


def _off_app() -> Starlette:
    env = Environment(loader=PackageLoader("bot.admin", "templates"), autoescape=select_autoescape(["html"]))

    async def off(request: Request) -> Response:
        if request.url.path.rstrip("/") != request.scope.get("root_path", "").rstrip("/"):
            return HTMLResponse("<!doctype html><title>Not found</title><p>Nothing here.</p>", status_code=404,
                                headers=SECURITY_HEADERS)
        # 404 as well: a monitor or a scanner sees no console; a person reads how to turn it on.
        return HTMLResponse(env.get_template("off.html").render(variable=TOKEN_VARIABLE, length=MIN_TOKEN_LENGTH),
                            status_code=404, headers=SECURITY_HEADERS)

    return Starlette(routes=[Route("/{path:path}", off, methods=["GET", "HEAD", "POST"])])
