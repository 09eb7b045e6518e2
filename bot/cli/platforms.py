"""``rapport run`` (the worker) and ``rapport serve`` (the web process): platforms wired to one engine.

``run`` holds the outbound connections — Slack Socket Mode, the Discord gateway, Telegram long
polling — in one event loop. ``serve`` answers Slack's Events API and Telegram's webhook under uvicorn.
Each platform runs supervised: if one fails it is logged and restarted with backoff, and the others
keep serving.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import socket
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Literal

import typer

from adapters.base import Adapter
from bot.cli.options import ConfigOption, DataDirOption, load, reports_errors, require_services, run_async
from bot.config import Config, Platform, Platforms
from bot.errors import ConfigError
from bot.types import Feedback, FeedbackHandler, MessageHandler

if TYPE_CHECKING:  # imported where a platform is enabled: a process without it never loads its SDK
    from adapters.discord import DiscordAdapter
    from adapters.slack import DeskMessage, SlackAdapter, SlackClient, SlackDesk
    from adapters.telegram import TelegramAdapter
    from bot.handoff.desk import HandoffDesk
    from bot.runtime import Runtime

log = logging.getLogger("rapport.platforms")

Process = Literal["run", "serve"]
STOP_TIMEOUT = 10.0
FIRST_RESTART_DELAY = 1.0
MAX_RESTART_DELAY = 300.0
HEALTHY_RUN = 60.0  # a platform that ran this long before failing restarts without accumulated backoff


def register(app: typer.Typer) -> None:
    """Add ``rapport run`` and ``rapport serve`` to the command line."""

    @app.command("run")
    @reports_errors
    def run_command(config: ConfigOption = None, data_dir: DataDirOption = None) -> None:
        """Worker: connect every enabled platform (Slack Socket Mode, Discord, Telegram polling) and answer."""
        cfg, data = load(config, data_dir)
        _log_progress()
        run_async(run(cfg, data))

    @app.command("serve")
    @reports_errors
    def serve_command(
        port: Annotated[int, typer.Option(envvar="PORT", help="Port to listen on (else $PORT, else 8000).")] = 8000,
        host: Annotated[str, typer.Option(help="Interface to bind.")] = "0.0.0.0",
        config: ConfigOption = None,
        data_dir: DataDirOption = None,
    ) -> None:
        """Web: POST /slack/events (Slack HTTP mode), POST /telegram/webhook (Telegram webhook mode), GET /healthz,
        GET /metrics, and the admin console under /admin (with ADMIN_TOKEN set)."""
        cfg, data = load(config, data_dir)
        _log_progress()
        run_async(serve(cfg, data, host=host, port=port))


# --- which platform runs where, and what it needs --------------------------------------------------


def _needs(platforms: Platforms, process: Process) -> list[tuple[str, Platform, tuple[str, ...]]]:
    """(name, settings, credential fields) of each enabled platform this process connects."""
    slack, discord, telegram = platforms.slack, platforms.discord, platforms.telegram
    if process == "run":
        wanted = [
            ("slack", slack, ("bot_token", "app_token"), slack.mode == "socket"),
            ("discord", discord, ("bot_token",), True),
            ("telegram", telegram, ("bot_token",), telegram.mode == "polling"),
        ]
    else:
        wanted = [
            ("slack", slack, ("bot_token", "signing_secret"), slack.mode == "http"),
            ("telegram", telegram, ("bot_token", "webhook_secret"), telegram.mode == "webhook"),
        ]
    return [(name, settings, fields) for name, settings, fields, here in wanted if settings.enabled and here]


def missing_credentials(platforms: Platforms, process: Process) -> list[str]:
    """One line per empty credential an enabled platform needs in this process, naming its variable."""
    missing = []
    for name, settings, fields in _needs(platforms, process):
        for field in fields:
            if not getattr(settings, field):
                extra = type(settings).model_fields[field].json_schema_extra
                env = extra.get("env") if isinstance(extra, dict) else None
                missing.append(f"platforms.{name}.{field} is empty: set {env or 'it in config.yaml'}")
    return missing


def check_credentials(platforms: Platforms, process: Process) -> None:
    missing = missing_credentials(platforms, process)
    if missing:
        raise ConfigError(
            "\n".join(missing),
            fix="export the variable (on Heroku: heroku config:set NAME=…) or set enabled: false for that platform",
        )


def feedback_handler(engine: object) -> FeedbackHandler:
    return getattr(engine, "feedback", None) or _ignore_feedback


async def _ignore_feedback(feedback: Feedback) -> None:
    return None


# --- messages in, replies out --------------------------------------------------------------------


def start_delivery(runtime: Runtime) -> MessageHandler:
    """Start the outbox sweeper (in the running loop) and return the handler the adapters get: it stores a
    message before they acknowledge it; replies go out through each platform's sender (see ``connect``)."""
    runtime.delivery.start()
    return runtime.delivery.receive


def wire_delivery(runtime: Runtime, adapters: Sequence[Adapter]) -> MessageHandler:
    """For adapters built outside ``connect`` (tests): register their senders, then ``start_delivery``."""
    for adapter in adapters:
        runtime.delivery.add_sender(adapter.platform, adapter.send)
    wire_streams(runtime, adapters)
    return start_delivery(runtime)


def wire_streams(runtime: Runtime, adapters: Sequence[Adapter]) -> None:
    """With an LLM writing replies, a platform that can edit a message shows each reply as it is written:
    a placeholder edited sentence by sentence, then edited into the final reply by the outbox."""
    streams = getattr(runtime.engine.compose, "streams", None)
    if streams is None:
        return
    from bot.llm.stream import editing_streams
    from bot.store.outbox import reply_key

    for adapter in adapters:
        if hasattr(adapter, "post_placeholder") and hasattr(adapter, "edit_placeholder"):
            streams.register(adapter.platform, editing_streams(adapter, runtime.delivery.poster.outbox,  # type: ignore[arg-type]
                                                               reply_key))


# --- the builder: desk, runtime and platform connections, each built once with what it needs -------


@dataclass(frozen=True, slots=True)
class Connections:
    """What ``connect`` built: the runtime and the adapters this process holds, each already wired."""

    runtime: Runtime
    adapters: list[Adapter]
    slack: SlackAdapter | None = None
    telegram: TelegramAdapter | None = None


@contextlib.asynccontextmanager
async def connect(config: Config, data_dir: Path, process: Process) -> AsyncIterator[Connections]:
    """Build everything ``process`` holds, up front and in dependency order, so nothing is set afterwards:
    the Slack Web API client, the agents' desk on it (``handoff.desk: slack``), the runtime with that desk
    (its replies to customers go out through the outbox), then the adapters — Slack with its desk channel
    and the route for agents' words — each registered as its platform's sender."""
    from bot.runtime import Runtime

    check_credentials(config.platforms, process)
    needed = [name for name, _, _ in _needs(config.platforms, process)]
    slack_client: SlackClient | None = None
    if "slack" in needed or _desk_needs_slack_here(config):
        from adapters.slack import web_client

        slack_client = web_client(config.platforms.slack)
    desk = slack_desk(config, slack_client)
    async with Runtime.open(config, data_dir, desk=desk) as runtime:
        slack: SlackAdapter | None = None
        if slack_client is not None and "slack" in needed:
            from adapters.slack import SlackAdapter, SlackDeskSettings

            desk_settings = None
            if desk is not None:
                desk_settings = SlackDeskSettings(config.handoff.slack_channel, desk_router(runtime.desk),
                                                  frozenset(config.handoff.agents))
            slack = SlackAdapter(config.platforms.slack, client=slack_client, desk=desk_settings)
        discord: DiscordAdapter | None = None
        telegram: TelegramAdapter | None = None
        if "discord" in needed:
            from adapters.discord import DiscordAdapter

            discord = DiscordAdapter(config.platforms.discord)
        if "telegram" in needed:
            from adapters.telegram import TelegramAdapter

            telegram = TelegramAdapter(config.platforms.telegram)
        adapters: list[Adapter] = [a for a in (slack, discord, telegram) if a is not None]
        for adapter in adapters:
            runtime.delivery.add_sender(adapter.platform, adapter.send)
        wire_streams(runtime, adapters)
        yield Connections(runtime, adapters, slack, telegram)


def _desk_needs_slack_here(config: Config) -> bool:
    """With the desk in Slack, every process that may open a handoff posts its summary there, even one
    that does not take Slack's events (a worker polling Telegram while the web process has Slack's HTTP
    events): it gets a Web API client for the desk alone. Agents' words still arrive where Slack's events do."""
    slack = config.platforms.slack
    return config.handoff.desk == "slack" and slack.enabled and bool(slack.bot_token)


def slack_desk(config: Config, client: SlackClient | None) -> SlackDesk | None:
    """With ``handoff.desk: slack``, the agents' channel on this process's Slack client; else None (agents
    work in the admin console, or the terminal's desk). ConfigError when Slack is not held here."""
    if config.handoff.desk != "slack":
        return None
    if not config.handoff.slack_channel or client is None:
        raise ConfigError(
            "handoff.desk is slack, but " + ("handoff.slack_channel is empty" if not config.handoff.slack_channel
                                            else "Slack is not enabled in this process"),
            fix="set handoff.slack_channel to the agents' channel id (e.g. C0123ABCD) and enable platforms.slack, "
                "or use handoff.desk: console",
        )
    from adapters.slack import SlackDesk

    return SlackDesk(client, config.handoff.slack_channel)


def wire_handoffs(runtime: Runtime, config: Config, adapters: Sequence[Adapter]) -> None:
    """Kept for callers written before ``connect``: the desk and its delivery route are now built by
    ``Runtime.open``, so this only checks that a Slack desk could be built. Prefer ``connect``."""
    if config.handoff.desk != "slack":
        return
    from adapters.slack import SlackAdapter

    if not any(isinstance(a, SlackAdapter) for a in adapters):
        slack_desk(config, None)  # raises the same ConfigError the builder would


def desk_router(desk: HandoffDesk) -> Callable[[DeskMessage], Awaitable[None]]:
    """An agent's words in a handoff thread: 'claim', 'resolve', or a reply for the customer."""

    async def route(message: DeskMessage) -> None:
        handoff = await desk.book.by_desk_ref(message.thread)
        if handoff is None or handoff.id is None:
            return  # a thread that is not a handoff: ordinary staff chatter
        await desk.agent_says(handoff.id, message.agent, message.text, message.message_id)

    return route


# --- the two processes ---------------------------------------------------------------------------


async def run(config: Config, data_dir: Path, *, stop: asyncio.Event | None = None) -> None:
    """Connect every enabled worker platform and answer until ``stop`` is set (or SIGINT/SIGTERM)."""
    check_credentials(config.platforms, "run")
    if not _needs(config.platforms, "run"):
        raise ConfigError(
            "nothing for `rapport run` to connect: no enabled platform uses the worker",
            fix="enable platforms.discord, platforms.slack with mode: socket, or platforms.telegram with mode: polling",
        )
    stop = stop or _stop_on_signals()
    from bot.embedder import prepare_ahead

    await prepare_ahead(config.models.embedder)
    async with connect(config, data_dir, "run") as built:
        runtime, adapters = built.runtime, built.adapters
        await require_services(runtime)
        await _ingest_if_empty(runtime)
        handler = start_delivery(runtime)
        async with supervised(adapters, handler, feedback_handler(runtime.delivery)):
            log.info("rapport run: serving %s", ", ".join(a.platform for a in adapters))
            await stop.wait()


async def serve(
    config: Config,
    data_dir: Path,
    *,
    host: str = "0.0.0.0",
    port: int = 8000,
    sockets: Sequence[socket.socket] | None = None,
    stop: asyncio.Event | None = None,
) -> None:
    """The web app under uvicorn until SIGINT/SIGTERM (or ``stop``). ``sockets``: already-bound listeners."""
    from bot.embedder import prepare_ahead

    await prepare_ahead(config.models.embedder)
    # Imported here: the worker process needs neither the web app nor uvicorn.
    import uvicorn

    from adapters.web import create_web_app
    from bot.admin import AdminConsole

    async with connect(config, data_dir, "serve") as built:
        runtime, adapters, slack, telegram = built.runtime, built.adapters, built.slack, built.telegram
        await require_services(runtime)
        await _ingest_if_empty(runtime)
        handler, feedback = start_delivery(runtime), feedback_handler(runtime.delivery)
        if slack is not None:
            slack.bind(handler, feedback)  # requests may arrive before its token check finishes
        server = uvicorn.Server(
            uvicorn.Config(create_web_app(slack=slack, telegram=telegram, health=runtime.health,
                                          admin=AdminConsole.from_env(runtime)),
                           host=host, port=port, lifespan="off", log_config=None, access_log=False)
        )
        # uvicorn stops on SIGINT/SIGTERM by itself and then re-raises the signal to whatever handler was
        # there before it: ours, so the process ends with exit code 0 rather than being killed by it.
        stop = stop or _stop_on_signals()
        async with supervised(adapters, handler, feedback):
            watcher = asyncio.create_task(_exit_when(stop, server))
            try:
                await server.serve(sockets=list(sockets) if sockets else None)
            finally:
                watcher.cancel()


async def _exit_when(stop: asyncio.Event, server: object) -> None:
    await stop.wait()
    server.should_exit = True  # type: ignore[attr-defined]


@contextlib.asynccontextmanager
async def supervised(adapters: Sequence[Adapter], handler: MessageHandler, feedback: FeedbackHandler) -> AsyncIterator[None]:
    """Run each adapter in its own task, restarting it after a failure; stop them all on exit."""
    stopping = asyncio.Event()
    tasks = [asyncio.create_task(_keep_running(a, handler, feedback, stopping), name=f"rapport-{a.platform}")
             for a in adapters]
    try:
        yield
    finally:
        stopping.set()
        await asyncio.gather(*(a.stop() for a in adapters), return_exceptions=True)
        if tasks:
            _, pending = await asyncio.wait(tasks, timeout=STOP_TIMEOUT)
            for task in pending:
                log.warning("%s did not stop within %.0fs; cancelling it", task.get_name(), STOP_TIMEOUT)
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)


async def _keep_running(
    adapter: Adapter, handler: MessageHandler, feedback: FeedbackHandler, stopping: asyncio.Event
) -> None:
    delay = FIRST_RESTART_DELAY
    while not stopping.is_set():
        started = time.monotonic()
        try:
            await adapter.start(handler, feedback)
            if stopping.is_set():
                return
            log.warning("%s stopped by itself; reconnecting", adapter.platform)
        except Exception:
            log.exception("%s failed; restarting in %.0fs (other platforms keep running)", adapter.platform, delay)
        if time.monotonic() - started > HEALTHY_RUN:
            delay = FIRST_RESTART_DELAY
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stopping.wait(), timeout=delay)
        delay = min(delay * 2, MAX_RESTART_DELAY)


async def _ingest_if_empty(runtime: Runtime) -> None:
    # A fresh dyno's disk is empty: index knowledge/ before answering anyone.
    if await runtime.knowledge.is_empty():
        log.info("knowledge index is empty: indexing knowledge/ …")
        await runtime.ingest()


def _stop_on_signals() -> asyncio.Event:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    return stop


def _log_progress() -> None:
    """Start-up, connections and failures of a long-running process belong in its log."""
    for name in ("rapport", "uvicorn.error"):
        logging.getLogger(name).setLevel(logging.INFO)
