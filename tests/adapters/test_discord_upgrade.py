"""The upgrade path: the undocumented pieces of discord.py the adapter relies on, checked for shape.

pyproject.toml pins discord.py to a tested minor range. Before widening it, run this file against the new
version: each test names one piece and fails loudly, with what to look at, when an upgrade changes it.
"""

from __future__ import annotations

import inspect
import tomllib
from pathlib import Path
from typing import Any

import discord
import discord.utils
import yarl
from discord.gateway import DiscordWebSocket
from discord.http import Route, handle_message_parameters
from packaging.specifiers import SpecifierSet
from packaging.version import Version

import adapters.discord as adapter

PYPROJECT = Path(__file__).parents[2] / "pyproject.toml"


def test_the_installed_discord_py_is_inside_the_pinned_range() -> None:
    dependencies = tomllib.loads(PYPROJECT.read_text())["project"]["dependencies"]
    [pin] = [d for d in dependencies if d.startswith("discord.py")]
    specifier = SpecifierSet(pin.removeprefix("discord.py"))
    assert any(s.operator == "<" for s in specifier), f"{pin}: discord.py needs an upper bound"
    assert Version(discord.__version__) in specifier, f"discord.py {discord.__version__} is outside {pin}"


def test_route_base_is_the_class_attribute_every_url_starts_from() -> None:
    assert isinstance(Route.__dict__.get("BASE"), str), "Route.BASE moved: api_base_url cannot redirect REST"
    saved = Route.BASE
    try:
        Route.BASE = "http://127.0.0.1:1/api/v10"
        assert Route("GET", "/users/@me").url == "http://127.0.0.1:1/api/v10/users/@me"
    finally:
        Route.BASE = saved


def test_the_gateway_url_is_a_class_attribute_read_at_connect() -> None:
    assert isinstance(DiscordWebSocket.__dict__.get("DEFAULT_GATEWAY"), yarl.URL)
    source = inspect.getsource(DiscordWebSocket.from_client)
    assert "cls.DEFAULT_GATEWAY" in source, "from_client no longer reads DEFAULT_GATEWAY: the gateway redirect breaks"


def test_gateway_frames_and_rest_bodies_are_decoded_through_utils_from_json() -> None:
    assert callable(getattr(discord.utils, "_from_json", None)), "discord.utils._from_json is gone"
    gateway = inspect.getsource(DiscordWebSocket.received_message)
    assert "utils._from_json(" in gateway, "the gateway decodes frames another way: tolerant_json no longer applies"


def test_the_tolerant_decoder_is_installed_and_reads_what_orjson_refuses() -> None:
    adapter._install_tolerant_json()
    assert discord.utils._from_json is adapter.tolerant_json
    assert discord.utils._from_json('{"content": "hello \\ud800"}') == {"content": "hello \ud800"}
    assert discord.utils._from_json("{not json") == {}


def test_gateway_events_are_parsed_through_the_connection_state_parsers() -> None:
    client = discord.Client(intents=discord.Intents.none())
    parsers: dict[str, Any] = client._connection.parsers
    assert {"MESSAGE_CREATE", "READY", "RESUMED", "INTERACTION_CREATE"} <= set(parsers)
    assert "_connection.parsers" in inspect.getsource(DiscordWebSocket.from_client), \
        "the websocket no longer takes its parsers from the connection state: the parser guard does not apply"


def test_a_nonce_is_sent_with_enforce_nonce() -> None:
    params = handle_message_parameters(content="hi", nonce="abc")
    assert params.payload is not None
    assert params.payload["nonce"] == "abc" and params.payload["enforce_nonce"] is True


def test_the_client_offers_the_pieces_the_adapter_calls() -> None:
    client = discord.Client(intents=discord.Intents.none(), max_ratelimit_timeout=30.0)
    assert client.http.max_ratelimit_timeout == 30.0
    assert inspect.iscoroutinefunction(client.http.get_bot_gateway)
    assert "reconnect" in inspect.signature(discord.Client.connect).parameters
    assert discord.RateLimited(60.0).retry_after == 60.0
