"""Who may use the admin console: one shared ``ADMIN_TOKEN``, a signed session cookie, CSRF and a login limit.

Every request under ``/admin`` passes :class:`AdminGuard` (an ASGI middleware on the console's own
app), so a route added later is protected without doing anything: only :data:`PUBLIC_PATHS` answer
without credentials. A request is signed in by either

- the session cookie, set by the login form: signed with a key derived from the token (rotating the
  token signs everyone out), HttpOnly, SameSite=Strict, Secure over HTTPS, valid for
  :data:`SESSION_SECONDS`; or
- ``Authorization: Bearer <token>``, for scripts (no cookie, so no CSRF check is needed).

Every POST made with a cookie must carry the session's CSRF token in its form body (``csrf``); the
guard checks it before the route runs, so a form cannot forget it. Wrong tokens, from the form or a
bearer header, count towards :class:`LoginLimiter`'s per-address limit. Tokens are compared with
:func:`hmac.compare_digest`; nothing here logs a token, a cookie or a form value.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from collections import deque
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, quote

from itsdangerous import BadSignature, URLSafeTimedSerializer

__all__ = [
    "COOKIE_NAME", "LOGIN_PATH", "PUBLIC_PATHS", "AdminGuard", "LoginLimiter", "Principal", "SessionSigner",
    "token_matches",
]

COOKIE_NAME = "rapport_admin"
SESSION_SECONDS = 12 * 3600
LOGIN_PATH = "/login"  # inside the console's mount
# The only paths that answer without credentials (the login form itself). tests/admin walks the route
# table against this set, so adding to it is a visible decision.
PUBLIC_PATHS = frozenset({LOGIN_PATH})
MAX_FORM_BYTES = 64 * 1024  # admin forms hold a CSRF token and a word or two

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


def token_matches(given: str, expected: str) -> bool:
    """Constant-time comparison (of UTF-8 bytes: compare_digest refuses non-ASCII str)."""
    return hmac.compare_digest(given.encode(), expected.encode())


@dataclass(frozen=True, slots=True)
class Principal:
    """A request's standing: ``via`` is "session", "bearer" or "" (anonymous); ``csrf`` the session's token."""

    via: str
    csrf: str

    @property
    def signed_in(self) -> bool:
        return bool(self.via)


class SessionSigner:
    """Signs and reads the session cookie: ``{"csrf": ..., "auth": bool}``. The key is derived from the
    token so no second secret has to be configured, and a new token voids every old cookie."""

    def __init__(self, token: str, max_age: int = SESSION_SECONDS) -> None:
        key = hmac.new(token.encode(), b"rapport admin session v1", hashlib.sha256).hexdigest()
        self._serializer = URLSafeTimedSerializer(key, salt="rapport-admin")
        self.max_age = max_age

    def dump(self, *, signed_in: bool, csrf: str | None = None) -> str:
        return self._serializer.dumps({"csrf": csrf or secrets.token_urlsafe(32), "auth": signed_in})

    def load(self, cookie: str) -> dict[str, Any] | None:
        try:
            data = self._serializer.loads(cookie, max_age=self.max_age)
        except BadSignature:  # also covers SignatureExpired
            return None
        return data if isinstance(data, dict) and isinstance(data.get("csrf"), str) else None


class LoginLimiter:
    """At most ``failures`` wrong tokens per client address within ``window`` seconds; then 429 until the
    oldest failure leaves the window. In-process: the web process is one per dyno, and a restart only
    gives an attacker another handful of guesses at a 32-byte token."""

    def __init__(self, failures: int = 5, window: float = 300.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.failures = failures
        self.window = window
        self._clock = clock
        self._seen: dict[str, deque[float]] = {}

    def _recent(self, address: str) -> deque[float]:
        now = self._clock()
        times = self._seen.setdefault(address, deque())
        while times and now - times[0] > self.window:
            times.popleft()
        if not times:
            del self._seen[address]  # the table holds only addresses that are failing now
            return deque()
        return times

    def retry_after(self, address: str) -> int:
        """Seconds until ``address`` may try again; 0 when it may now."""
        times = self._recent(address)
        if len(times) < self.failures:
            return 0
        return max(1, int(self.window - (self._clock() - times[0])) + 1)

    def failed(self, address: str) -> None:
        self._seen.setdefault(address, deque()).append(self._clock())

    def succeeded(self, address: str) -> None:
        self._seen.pop(address, None)


def client_address(scope: Scope) -> str:
    client = scope.get("client")
    return str(client[0]) if client else "unknown"


def _headers(scope: Scope) -> dict[str, str]:
    return {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}


def _cookie(headers: dict[str, str], name: str) -> str:
    for part in headers.get("cookie", "").split(";"):
        key, _, value = part.strip().partition("=")
        if key == name:
            return value
    return ""


def is_https(scope: Scope, headers: dict[str, str]) -> bool:
    # Behind Heroku's router the app sees http; the router says what the browser used.
    return scope.get("scheme") == "https" or headers.get("x-forwarded-proto", "").split(",")[0].strip() == "https"


def session_cookie(value: str, *, secure: bool, max_age: int = SESSION_SECONDS, path: str = "/admin") -> str:
    """A Set-Cookie header value for the session."""
    flags = f"; Path={path}; Max-Age={max_age}; HttpOnly; SameSite=Strict" + ("; Secure" if secure else "")
    return f"{COOKIE_NAME}={value}{flags}"


async def _plain(send: Send, status: int, text: str, headers: list[tuple[bytes, bytes]] | None = None) -> None:
    body = text.encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"text/plain; charset=utf-8"), (b"content-length", str(len(body)).encode()),
                            (b"cache-control", b"no-store"), *(headers or [])]})
    await send({"type": "http.response.body", "body": body})


class AdminGuard:
    """ASGI middleware for the console's app: reads the credentials, stores a :class:`Principal` in
    ``scope["admin"]``, refuses what may not pass and replays a checked form body to the route.

    Without credentials a GET is redirected (303) to the login form, anything else gets 401. A bearer
    header with a wrong token is a failed login (401, or 429 when over the limit). A cookie POST whose
    form lacks the session's CSRF token gets 403, whatever the path, login included.
    """

    def __init__(self, app: ASGIApp, *, token: str, signer: SessionSigner, limiter: LoginLimiter) -> None:
        self.app = app
        self._token = token
        self._signer = signer
        self._limiter = limiter

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = _headers(scope)
        path = scope.get("path", "")
        root = scope.get("root_path", "")
        inner = path[len(root):] if root and path.startswith(root) else path
        address = client_address(scope)

        authorization = headers.get("authorization", "")
        if authorization[:7].lower() == "bearer ":
            wait = self._limiter.retry_after(address)
            if wait:
                await _plain(send, 429, "too many failed sign-ins; try again later", [(b"retry-after", str(wait).encode())])
                return
            if not token_matches(authorization[7:].strip(), self._token):
                self._limiter.failed(address)
                await _plain(send, 401, "wrong token", [(b"www-authenticate", b'Bearer realm="rapport-admin"')])
                return
            self._limiter.succeeded(address)
            scope["admin"] = Principal("bearer", "")
            await self.app(scope, receive, send)
            return

        session = self._signer.load(_cookie(headers, COOKIE_NAME)) or {}
        principal = Principal("session" if session.get("auth") is True else "", str(session.get("csrf", "")))
        scope["admin"] = principal
        method = scope.get("method", "GET")
        if not principal.signed_in and inner not in PUBLIC_PATHS:
            if method in ("GET", "HEAD"):
                # The path only (no query): filters may hold a customer reference.
                target = f"{root}{LOGIN_PATH}?next={quote(inner or '/', safe='/')}"
                await _plain(send, 303, "sign in first", [(b"location", target.encode())])
            else:
                await _plain(send, 401, "sign in first")
            return
        if method in ("GET", "HEAD", "OPTIONS"):
            await self.app(scope, receive, send)
            return

        body = bytearray()
        more = True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            body += message.get("body", b"")
            more = bool(message.get("more_body"))
            if len(body) > MAX_FORM_BYTES:
                await _plain(send, 413, "form too large")
                return
        form = parse_qs(body.decode("utf-8", "replace")) if "urlencoded" in headers.get("content-type", "") else {}
        given = (form.get("csrf") or [""])[0]
        if not principal.csrf or not given or not token_matches(given, principal.csrf):
            await _plain(send, 403, "the form has expired or did not come from this console; reload the page and retry")
            return

        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if replayed:
                return await receive()
            replayed = True
            return {"type": "http.request", "body": bytes(body), "more_body": False}

        await self.app(scope, replay, send)
