"""Fixtures for the admin console: the real web app over a real Runtime, reached in-process or on loopback."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import httpx
import pytest
from starlette.applications import Starlette

from adapters.web import create_web_app
from bot.admin import AdminConsole
from bot.runtime import Runtime

TOKEN = "test-admin-token-0123456789abcdef"


@pytest.fixture
def console(runtime: Runtime) -> AdminConsole:
    return AdminConsole.from_env(runtime, env={"ADMIN_TOKEN": TOKEN})


@pytest.fixture
def web_app(console: AdminConsole) -> Starlette:
    return create_web_app(admin=console)


@pytest.fixture
async def client(web_app: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=web_app, client=("127.0.0.1", 40000))
    async with httpx.AsyncClient(transport=transport, base_url="http://console.test") as http:
        yield http


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found, "the page has no CSRF field"
    return found.group(1)


async def sign_in(http: httpx.AsyncClient, token: str = TOKEN) -> httpx.Response:
    """Open the login form (which sets the anonymous session), post the token; the response to the post."""
    form = await http.get("/admin/login")
    assert form.status_code == 200
    return await http.post("/admin/login", data={"csrf": csrf_of(form.text), "token": token, "next": "/"})
