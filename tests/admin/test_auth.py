"""Sign-in: every console route refuses an anonymous request; CSRF, the login limit and bearer tokens."""

from __future__ import annotations

import re

import httpx
import pytest
from sqlmodel import select
from starlette.applications import Starlette
from starlette.routing import BaseRoute, Mount, Route

from adapters.web import create_web_app
from bot.admin import AdminConsole
from bot.admin.auth import COOKIE_NAME, PUBLIC_PATHS, LoginLimiter
from bot.runtime import Runtime
from bot.store.tables import Customer
from tests.admin.conftest import TOKEN, csrf_of, sign_in
from tests.conftest import ROOT


def _walk(routes: list[BaseRoute], prefix: str = "") -> list[tuple[str, str]]:
    """(method, concrete path) for every route under the app, mounts included; {params} filled with 1."""
    found: list[tuple[str, str]] = []
    for route in routes:
        if isinstance(route, Mount):
            inner = getattr(route.app, "routes", None)
            if inner:
                found += _walk(list(inner), prefix + route.path)
            else:  # a mounted app without a route table (static files): try a path inside it
                found.append(("GET", prefix + route.path + "/chart.umd.min.js"))
        elif isinstance(route, Route):
            path = re.sub(r"\{[^}]+\}", "1", prefix + route.path)
            found += [(method, path) for method in sorted(route.methods or {"GET"}) if method != "HEAD"]
    return found


def _console_routes(app: Starlette) -> list[tuple[str, str]]:
    return [(m, p) for m, p in _walk(list(app.routes)) if p.startswith("/admin")]


async def test_every_console_route_needs_a_session(web_app: Starlette, client: httpx.AsyncClient) -> None:
    routes = _console_routes(web_app)
    assert len(routes) >= 18, routes  # the walk found the console's table, not an empty mount
    public = {f"/admin{p}" for p in PUBLIC_PATHS}
    for method, path in routes:
        if path in public:
            continue
        response = await client.request(method, path, data={"csrf": "x"} if method == "POST" else None)
        if method == "GET":
            assert response.status_code == 303, (method, path, response.status_code)
            assert response.headers["location"].startswith("/admin/login?next="), path
        else:
            assert response.status_code == 401, (method, path, response.status_code)
        assert COOKIE_NAME not in response.headers.get("set-cookie", "")
    # The only public path is the login form itself, and it reveals nothing but the form.
    assert public == {"/admin/login"}
    login = await client.get("/admin/login")
    assert login.status_code == 200 and 'name="token"' in login.text and "Overview" not in login.text


async def test_every_console_route_answers_a_bearer_token(web_app: Starlette, client: httpx.AsyncClient) -> None:
    """Bearer requests pass the guard everywhere (a 404 for a made-up id is the route's own answer)."""
    auth = {"Authorization": f"Bearer {TOKEN}"}
    for method, path in _console_routes(web_app):
        if method != "GET" or path.endswith("/export.json"):
            continue
        response = await client.get(path, headers=auth)
        expected = (303,) if path == "/admin/login" else (200, 404)  # signed in already: on to the overview
        assert response.status_code in expected, (path, response.status_code)
    overview = await client.get("/admin/", headers=auth)
    assert overview.status_code == 200 and "Automated resolution" in overview.text
    wrong = await client.get("/admin/", headers={"Authorization": "Bearer not-the-token-at-all"})
    assert wrong.status_code == 401


async def test_sign_in_sets_a_strict_http_only_cookie_and_a_new_csrf(client: httpx.AsyncClient) -> None:
    form = await client.get("/admin/login")
    anonymous_csrf = csrf_of(form.text)
    response = await client.post("/admin/login", data={"csrf": anonymous_csrf, "token": TOKEN, "next": "/customers"})
    assert response.status_code == 303 and response.headers["location"] == "/admin/customers"
    cookie = response.headers["set-cookie"]
    assert cookie.startswith(f"{COOKIE_NAME}=") and "HttpOnly" in cookie and "SameSite=Strict" in cookie
    assert "Path=/admin" in cookie
    page = await client.get("/admin/customers")
    assert page.status_code == 200 and "Customers" in page.text
    assert csrf_of(page.text) != anonymous_csrf  # the session's token was replaced at sign-in
    # Over HTTPS (as Heroku's router reports it) the cookie is Secure too.
    client.cookies.clear()
    form = await client.get("/admin/login", headers={"x-forwarded-proto": "https"})
    assert "Secure" in form.headers["set-cookie"]


async def test_a_form_without_the_session_csrf_token_is_refused(client: httpx.AsyncClient, runtime: Runtime) -> None:
    await sign_in(client)
    page = await client.get("/admin/knowledge")
    good = csrf_of(page.text)
    for data in ({}, {"csrf": ""}, {"csrf": good[:-2] + "xx"}):
        refused = await client.post("/admin/logout", data=data)
        assert refused.status_code == 403, data
    # Still signed in: the refused logouts did nothing.
    assert (await client.get("/admin/knowledge")).status_code == 200
    # A forget without the token deletes nothing, even with the confirmation typed.
    await runtime.import_files([ROOT / "samples" / "customers.csv"])
    refused = await client.post("/admin/customers/C-1001/forget", data={"confirm": "C-1001"})
    assert refused.status_code == 403
    async with runtime.database.session() as session:
        assert (await session.exec(select(Customer).where(Customer.external_id == "C-1001"))).first() is not None
    done = await client.post("/admin/logout", data={"csrf": good})
    assert done.status_code == 303 and (await client.get("/admin/knowledge")).status_code == 303


async def test_login_is_rate_limited_per_address(runtime: Runtime) -> None:
    clock = [1000.0]
    console = AdminConsole(runtime, TOKEN, limiter=LoginLimiter(failures=5, window=300, clock=lambda: clock[0]))
    app = create_web_app(admin=console)

    def client_from(address: str) -> httpx.AsyncClient:
        return httpx.AsyncClient(transport=httpx.ASGITransport(app=app, client=(address, 5555)), base_url="http://c.test")

    async with client_from("10.0.0.1") as attacker, client_from("10.0.0.2") as colleague:
        for _ in range(5):
            assert (await sign_in(attacker, "wrong-token-guess-000000")).status_code == 401
        blocked = await sign_in(attacker, TOKEN)  # even the right token waits now
        assert blocked.status_code == 429 and int(blocked.headers["retry-after"]) > 0
        bearer = await attacker.get("/admin/", headers={"Authorization": f"Bearer {TOKEN}"})
        assert bearer.status_code == 429
        assert (await sign_in(colleague, TOKEN)).status_code == 303  # another address is not blocked
        clock[0] += 301
        assert (await sign_in(attacker, TOKEN)).status_code == 303


async def test_wrong_bearer_tokens_count_towards_the_limit(runtime: Runtime) -> None:
    console = AdminConsole(runtime, TOKEN, limiter=LoginLimiter(failures=3, window=300))
    app = create_web_app(admin=console)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://c.test") as http:
        for _ in range(3):
            assert (await http.get("/admin/", headers={"Authorization": "Bearer guess-guess-guess"})).status_code == 401
        assert (await http.get("/admin/", headers={"Authorization": f"Bearer {TOKEN}"})).status_code == 429


async def test_without_a_token_the_console_is_off(runtime: Runtime) -> None:
    app = create_web_app(admin=AdminConsole.from_env(runtime, env={}))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://c.test") as http:
        home = await http.get("/admin/")
        assert home.status_code == 404 and "ADMIN_TOKEN" in home.text and "turn it on" in home.text
        for path in ("/admin/login", "/admin/customers", "/admin/static/chart.umd.min.js"):
            response = await http.get(path, headers={"Authorization": "Bearer anything-at-all-here"})
            assert response.status_code == 404 and "ADMIN_TOKEN" not in response.text, path
        assert (await http.post("/admin/login", data={"token": "x"})).status_code == 404


def test_a_short_token_is_refused_at_start_up(runtime: Runtime) -> None:
    from bot.errors import ConfigError

    with pytest.raises(ConfigError, match="ADMIN_TOKEN"):
        AdminConsole.from_env(runtime, env={"ADMIN_TOKEN": "short"})
