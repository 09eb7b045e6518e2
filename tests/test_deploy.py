"""Deploying: app.json and the Procfile, the Python pin, the Slack app manifests, GET /metrics, JSON logs."""

from __future__ import annotations

import io
import json
import logging
import re
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from packaging.specifiers import SpecifierSet
from prometheus_client.parser import text_string_to_metric_families

from adapters.slack import COMMANDS
from adapters.web import SLACK_PATH
from bot.config import Config
from bot.logs import LOG_FORMAT_ENV, configure_logging
from bot.metrics import METRICS, RapportMetrics, TurnOutcome
from tests.adapters.support import web_process

ROOT = Path(__file__).resolve().parent.parent
APP = json.loads((ROOT / "app.json").read_text())
PROCFILE = dict(line.split(":", 1) for line in (ROOT / "Procfile").read_text().splitlines() if line.strip())
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())

# --- app.json and the Procfile ------------------------------------------------------------------------------


def test_procfile_runs_the_web_worker_and_release_commands() -> None:
    assert {k: v.strip() for k, v in PROCFILE.items()} == {
        "web": "rapport serve", "worker": "rapport run", "release": "rapport db upgrade"}
    assert PYPROJECT["project"]["scripts"]["rapport"] == "bot.cli.app:main"


def test_app_json_scales_the_long_running_processes_of_the_procfile() -> None:
    # The release phase is not a dyno formation: Heroku runs the Procfile's `release` once per deploy.
    assert set(APP["formation"]) == set(PROCFILE) - {"release"}
    assert all(f["quantity"] >= 1 for f in APP["formation"].values())
    assert APP["buildpacks"] == [{"url": "heroku/python"}]


def test_app_json_provisions_postgres_and_key_value_store_under_the_urls_the_config_reads() -> None:
    plans = {a["plan"].split(":")[0]: a.get("as") for a in APP["addons"]}
    assert plans == {"heroku-postgresql": "DATABASE", "heroku-redis": "REDIS"}
    config_text = (ROOT / "config.yaml").read_text()
    # An add-on attached as NAME sets NAME_URL.
    assert "${DATABASE_URL:-}" in config_text and "${REDIS_URL:-}" in config_text


def test_every_config_var_is_described_and_no_secret_has_a_default() -> None:
    for name, var in APP["env"].items():
        assert re.fullmatch(r"[A-Z][A-Z0-9_]*", name), name
        assert len(var.get("description", "")) >= 20, name
        if re.search(r"TOKEN|SECRET|KEY", name):
            assert "value" not in var, f"{name}: a secret must never have a default in the repository"
    required = {"SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET", "SLACK_APP_TOKEN", "TELEGRAM_BOT_TOKEN",
                "TELEGRAM_WEBHOOK_SECRET", "TELEGRAM_WEBHOOK_URL", "DISCORD_BOT_TOKEN", "OPENAI_API_KEY",
                "ADMIN_TOKEN", "RAPPORT_CONFIG", "RAPPORT_LOG_FORMAT", "CHROMA_URL"}
    assert required <= set(APP["env"])
    assert APP["env"]["ADMIN_TOKEN"]["generator"] == "secret"


def _read_by_rapport(name: str) -> bool:
    """Whether config.yaml references ${NAME} or Rapport's code names the variable."""
    if f"${{{name}" in (ROOT / "config.yaml").read_text():
        return True
    sources = [*(ROOT / "bot").rglob("*.py"), *(ROOT / "adapters").rglob("*.py")]
    return any(f'"{name}"' in path.read_text() for path in sources)


@pytest.mark.parametrize("name", list(APP["env"]))
def test_every_config_var_is_read_by_rapport(name: str) -> None:
    assert _read_by_rapport(name), f"app.json sets {name}, but nothing reads it"


def test_python_is_pinned_the_way_the_buildpack_reads_it() -> None:
    # .python-version (runtime.txt is deprecated), major version only: each build gets the latest patch.
    pinned = (ROOT / ".python-version").read_text().strip()
    assert re.fullmatch(r"3\.\d+", pinned)
    assert not (ROOT / "runtime.txt").exists()
    assert f"{pinned}.0" in SpecifierSet(PYPROJECT["project"]["requires-python"])
    # The buildpack installs from requirements.txt; "." is this project with pyproject.toml's dependencies.
    lines = [ln.strip() for ln in (ROOT / "requirements.txt").read_text().splitlines()]
    assert [ln for ln in lines if ln and not ln.startswith("#")] == ["."]


# --- the Slack app manifests --------------------------------------------------------------------------------

MANIFESTS = {"socket": ROOT / "slack" / "manifest.yml", "http": ROOT / "slack" / "manifest.http.yml"}
SCOPES = {"app_mentions:read", "chat:write", "im:history", "channels:history", "groups:history", "commands",
          "files:write", "reactions:read"}
EVENTS = {"app_mention", "message.im", "message.channels", "reaction_added", "app_uninstalled", "tokens_revoked"}
# The scope Slack requires before it accepts a subscription to each event (none for the app's own events).
EVENT_SCOPE = {"app_mention": "app_mentions:read", "message.im": "im:history", "message.channels": "channels:history",
               "message.groups": "groups:history", "reaction_added": "reactions:read", "app_uninstalled": None, "tokens_revoked": None}
TOP_LEVEL = {"_metadata", "display_information", "features", "oauth_config", "settings", "functions", "workflows",
             "outgoing_domains"}


@pytest.fixture(params=list(MANIFESTS))
def manifest(request: pytest.FixtureRequest) -> tuple[str, dict[str, Any]]:
    return request.param, yaml.safe_load(MANIFESTS[request.param].read_text())


def test_manifest_follows_slacks_schema_rules(manifest: tuple[str, dict[str, Any]]) -> None:
    """The rules of Slack's manifest reference that hold without asking Slack (apps.manifest.validate)."""
    _, m = manifest
    assert set(m) <= TOP_LEVEL
    assert m["_metadata"]["major_version"] in (1, 2)
    info = m["display_information"]
    assert 1 <= len(info["name"]) <= 35 and len(info.get("description", "")) <= 140
    assert re.fullmatch(r"#[0-9a-fA-F]{6}", info["background_color"])
    bot = m["features"]["bot_user"]
    assert re.fullmatch(r"[a-z0-9._-]{1,80}", bot["display_name"])
    for command in m["features"]["slash_commands"]:
        assert re.fullmatch(r"/[a-z0-9_-]{1,31}", command["command"])
        assert 1 <= len(command["description"]) <= 2000 and len(command.get("usage_hint", "")) <= 1000
    assert len(m["oauth_config"]["scopes"]["bot"]) == len(set(m["oauth_config"]["scopes"]["bot"]))
    assert isinstance(m["settings"]["socket_mode_enabled"], bool)
    assert m["settings"]["interactivity"]["is_enabled"] is True


def test_manifest_asks_for_what_rapport_uses(manifest: tuple[str, dict[str, Any]]) -> None:
    _, m = manifest
    scopes = set(m["oauth_config"]["scopes"]["bot"])
    events = set(m["settings"]["event_subscriptions"]["bot_events"])
    assert scopes == SCOPES
    assert events == EVENTS
    assert all(EVENT_SCOPE[e] is None or EVENT_SCOPE[e] in scopes for e in events)  # Slack refuses otherwise
    assert [c["command"] for c in m["features"]["slash_commands"]] == [f"/{c}" for c in COMMANDS]
    assert m["features"]["app_home"]["messages_tab_enabled"] is True  # customers write in the bot's DM
    assert m["features"]["app_home"]["messages_tab_read_only_enabled"] is False


def _urls(m: dict[str, Any]) -> list[str]:
    s = m["settings"]
    return [u for u in (s["event_subscriptions"].get("request_url"), s["interactivity"].get("request_url"),
                        *(c.get("url") for c in m["features"]["slash_commands"])) if u]


def test_socket_mode_manifest_needs_no_public_url_and_http_sends_everything_to_the_events_route() -> None:
    socket_mode, http = (yaml.safe_load(MANIFESTS[k].read_text()) for k in ("socket", "http"))
    assert socket_mode["settings"]["socket_mode_enabled"] is True and _urls(socket_mode) == []
    assert http["settings"]["socket_mode_enabled"] is False
    urls = _urls(http)
    assert len(urls) == 2 + len(COMMANDS)  # events, interactivity, every command: Slack requires each in HTTP mode
    assert all(re.fullmatch(rf"https://[^/]+{re.escape(SLACK_PATH)}", u) for u in urls)


def test_the_two_manifests_differ_only_in_mode_settings_and_urls() -> None:
    def strip(m: dict[str, Any]) -> dict[str, Any]:
        m["settings"].pop("socket_mode_enabled")
        m["settings"]["event_subscriptions"].pop("request_url", None)
        m["settings"]["interactivity"].pop("request_url", None)
        for c in m["features"]["slash_commands"]:
            c.pop("url", None)
        return m

    socket_mode, http = (strip(yaml.safe_load(MANIFESTS[k].read_text())) for k in ("socket", "http"))
    assert socket_mode == http


# --- GET /metrics -------------------------------------------------------------------------------------------


def _samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def test_metrics_count_turns_latency_handoffs_deliveries_tokens_and_errors() -> None:
    metrics = RapportMetrics()
    metrics.observe_turn("slack", TurnOutcome.ANSWERED, 0.03)
    metrics.observe_turn("slack", TurnOutcome.ANSWERED, 0.3)
    metrics.observe_turn("telegram", TurnOutcome.FAILED, 0.01)
    metrics.handoff_opened("slack", "asked_for_person")
    metrics.delivered("slack")
    metrics.delivery_failed("telegram", "rate_limited")
    metrics.tokens_used(prompt=812, completion=64)
    metrics.error("engine", ValueError("my card 4111 1111 1111 1111 was charged twice"))
    text = metrics.render().decode()
    got = _samples(text)

    assert got[("rapport_turns_total", (("outcome", "answered"), ("platform", "slack")))] == 2
    assert got[("rapport_turns_total", (("outcome", "failed"), ("platform", "telegram")))] == 1
    assert got[("rapport_turn_seconds_count", (("platform", "slack"),))] == 2
    assert got[("rapport_turn_seconds_sum", (("platform", "slack"),))] == pytest.approx(0.33)
    assert got[("rapport_turn_seconds_bucket", (("le", "0.04"), ("platform", "slack")))] == 1
    assert got[("rapport_handoffs_total", (("platform", "slack"), ("reason", "asked_for_person")))] == 1
    assert got[("rapport_deliveries_total", (("platform", "slack"),))] == 1
    assert got[("rapport_delivery_failures_total", (("platform", "telegram"), ("reason", "rate_limited")))] == 1
    assert got[("rapport_llm_tokens_total", (("kind", "prompt"),))] == 812
    assert got[("rapport_llm_tokens_total", (("kind", "completion"),))] == 64
    assert got[("rapport_errors_total", (("component", "engine"), ("error", "ValueError")))] == 1
    assert "4111" not in text  # an error's message never becomes a label
    assert any(name == "process_resident_memory_bytes" for name, _ in got)


async def test_serve_answers_metrics_in_prometheus_text_format(repo_config: Config, data_dir: Path) -> None:
    """The real `rapport serve` on a loopback port: /metrics reflects what this process recorded."""
    def turns(text: str) -> float:
        return _samples(text).get(("rapport_turns_total", (("outcome", "handed_off"), ("platform", "deploy-test"))), 0)

    async with web_process(repo_config, data_dir) as client:
        before = await client.get("/metrics")
        METRICS.observe_turn("deploy-test", TurnOutcome.HANDED_OFF, 0.02)
        after = await client.get("/metrics")
    assert before.status_code == after.status_code == 200
    assert after.headers["content-type"] == "text/plain; version=0.0.4; charset=utf-8"
    assert turns(after.text) == turns(before.text) + 1
    assert "rapport_turn_seconds_bucket" in after.text


# --- JSON logs ----------------------------------------------------------------------------------------------


@pytest.fixture
def root_logging() -> Iterator[None]:
    """The root logger as configure_logging leaves it, and Rapport's loggers as a fresh process has them
    (earlier tests in the same process may have set their levels or filters)."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    ours = [logging.getLogger(name) for name in ("rapport", "rapport.engine", "rapport.web")]
    saved = [(logger, logger.level, list(logger.filters), logger.disabled) for logger in ours]
    for logger in ours:
        logger.setLevel(logging.NOTSET)
        logger.filters.clear()
        logger.disabled = False
    yield
    root.handlers[:] = handlers
    root.setLevel(level)
    for logger, old_level, filters, disabled in saved:
        logger.setLevel(old_level)
        logger.filters[:] = filters
        logger.disabled = disabled


def test_json_logs_carry_ids_and_never_an_exceptions_message(root_logging: None) -> None:
    stream = io.StringIO()
    configure_logging(logging.INFO, env={LOG_FORMAT_ENV: "json"}, stream=stream)
    log = logging.getLogger("rapport.engine")
    log.info("turn %s answered", 41, extra={"platform": "slack", "customer_id": 7, "message_id": "m-9",
                                            "text": "my card 4111 1111 1111 1111"})
    try:
        raise ValueError("customer wrote: my card 4111 1111 1111 1111")
    except ValueError:
        log.exception("turn %s failed", 42, extra={"customer_id": 7})

    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert [ln["message"] for ln in lines] == ["turn 41 answered", "turn 42 failed"]
    assert lines[0]["platform"] == "slack" and lines[0]["customer_id"] == 7 and lines[0]["message_id"] == "m-9"
    assert lines[0]["level"] == "info" and lines[0]["logger"] == "rapport.engine" and "ts" in lines[0]
    assert "text" not in lines[0]  # extras other than ids are dropped
    assert lines[1]["error"] == "ValueError"
    assert any("test_deploy.py" in frame for frame in lines[1]["stack"])
    assert "4111" not in stream.getvalue()


def test_text_logs_unless_json_is_asked_for_and_a_second_call_replaces_the_first(root_logging: None) -> None:
    first, second = io.StringIO(), io.StringIO()
    configure_logging(logging.INFO, env={}, stream=first)
    configure_logging(logging.INFO, env={LOG_FORMAT_ENV: "JSON"}, stream=second)
    logging.getLogger("rapport.web").warning("slack request failed (path=%s)", "/slack/events")
    assert first.getvalue() == ""
    assert json.loads(second.getvalue())["message"] == "slack request failed (path=/slack/events)"
    plain = io.StringIO()
    configure_logging(logging.INFO, env={LOG_FORMAT_ENV: "text"}, stream=plain)
    logging.getLogger("rapport.web").warning("ready")
    assert plain.getvalue() == "WARNING rapport.web: ready\n"


# --- the Discord invite URL the README gives ------------------------------------------------------------------

# View Channels, Send Messages, Send Messages in Threads, Read Message History: what the adapter does in a
# server (it replies quoting the customer's message, in threads too; exports and other private answers go by
# DM, which needs no server permission; buttons and suppressed embeds need none either).
DISCORD_INVITE_PERMISSIONS = 274877975552


def test_discord_invite_permission_integer_is_what_discord_py_computes() -> None:
    import discord

    wanted = discord.Permissions(view_channel=True, send_messages=True, send_messages_in_threads=True,
                                 read_message_history=True)
    assert wanted.value == DISCORD_INVITE_PERMISSIONS
    assert discord.utils.oauth_url(1, permissions=wanted, scopes=("bot",)).endswith(
        f"scope=bot&permissions={DISCORD_INVITE_PERMISSIONS}")
