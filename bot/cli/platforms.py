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
from pathlib import Path
from typing import Annotated, Literal

import typer

from adapters.base import Adapter
from adapters.discord import DiscordAdapter
from adapters.slack import DeskMessage, SlackAdapter, SlackDesk
from adapters.telegram import TelegramAdapter
from bot.cli.options import ConfigOption, DataDirOption, load, reports_errors, require_services, run_async
from bot.config import Config, Platform, Platforms
from bot.errors import ConfigError
from bot.runtime import Runtime
from bot.handoff.desk import HandoffDesk
from bot.types import Feedback, FeedbackHandler, MessageHandler

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
        """Web: POST /slack/events (Slack HTTP mode), POST /telegram/webhook (Telegram webhook mode), GET /healthz."""
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


def worker_adapters(platforms: Platforms) -> list[Adapter]:
    """The adapters ``rapport run`` holds: Slack in socket mode, Discord, Telegram in polling mode."""
    built: list[Adapter] = []
    for name, _, _ in _needs(platforms, "run"):
        match name:
            case "slack":
                built.append(SlackAdapter(platforms.slack))
            case "discord":
                built.append(DiscordAdapter(platforms.discord))
            case "telegram":
                built.append(TelegramAdapter(platforms.telegram))
    return built


def feedback_handler(engine: object) -> FeedbackHandler:
    return getattr(engine, "feedback", None) or _ignore_feedback


async def _ignore_feedback(feedback: Feedback) -> None:
    return None


# --- messages in, replies out --------------------------------------------------------------------


def wire_delivery(runtime: Runtime, adapters: Sequence[Adapter]) -> MessageHandler:
    """Replies go out through the outbox, by each platform this process holds; the handler the
    adapters get stores a message before they acknowledge it. The sweeper starts with the loop."""
    for adapter in adapters:
        runtime.delivery.add_sender(adapter.platform, adapter.send)
    runtime.delivery.start()
    return runtime.delivery.receive


# --- handoffs: where agents work, and how their replies reach customers ---------------------------


def wire_handoffs(runtime: Runtime, config: Config, adapters: Sequence[Adapter]) -> None:
    """Agents' replies go out through the outbox, so a relay to a platform this process does not hold is
    sent by the process that does; with ``handoff.desk: slack`` the agents work in a thread per handoff
    in ``handoff.slack_channel``."""
    senders = {adapter.platform: adapter for adapter in adapters}
    runtime.desk.deliver = runtime.delivery.send
    if config.handoff.desk != "slack":
        return
    slack = senders.get("slack")
    if not config.handoff.slack_channel or not isinstance(slack, SlackAdapter):
        raise ConfigError(
            "handoff.desk is slack, but " + ("handoff.slack_channel is empty" if not config.handoff.slack_channel
                                            else "Slack is not enabled in this process"),
            fix="set handoff.slack_channel to the agents' channel id (e.g. C0123ABCD) and enable platforms.slack, "
                "or use handoff.desk: console",
        )
    runtime.desk.desk = SlackDesk(slack, config.handoff.slack_channel)
    slack.desk_channel = config.handoff.slack_channel
    slack.desk_handler = desk_router(runtime.desk)
    slack.desk_agents = frozenset(config.handoff.agents)


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
    adapters = worker_adapters(config.platforms)
    if not adapters:
        raise ConfigError(
            "nothing for `rapport run` to connect: no enabled platform uses the worker",
            fix="enable platforms.discord, platforms.slack with mode: socket, or platforms.telegram with mode: polling",
        )
    stop = stop or _stop_on_signals()
    async with Runtime.open(config, data_dir) as runtime:
        await require_services(runtime)
        await _ingest_if_empty(runtime)
        wire_handoffs(runtime, config, adapters)
        handler = wire_delivery(runtime, adapters)
        async with supervised(adapters, handler, feedback_handler(runtime.engine)):
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
    # Imported here: the worker process needs neither the web app nor uvicorn.
    import uvicorn

    from adapters.web import create_web_app

    check_credentials(config.platforms, "serve")
    needed = {name for name, _, _ in _needs(config.platforms, "serve")}
    slack = SlackAdapter(config.platforms.slack) if "slack" in needed else None
    telegram = TelegramAdapter(config.platforms.telegram) if "telegram" in needed else None
    adapters: list[Adapter] = [a for a in (slack, telegram) if a is not None]
    async with Runtime.open(config, data_dir) as runtime:
        await require_services(runtime)
        await _ingest_if_empty(runtime)
        handler, feedback = wire_delivery(runtime, adapters), feedback_handler(runtime.engine)
        if slack is not None:
            slack.bind(handler, feedback)  # requests may arrive before its token check finishes
        wire_handoffs(runtime, config, adapters)
        server = uvicorn.Server(
            uvicorn.Config(create_web_app(slack=slack, telegram=telegram, health=runtime.health), host=host,
                           port=port, lifespan="off", log_config=None, access_log=False)
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
