"""Options every command takes, and the one place CLI errors become messages and exit codes."""

from __future__ import annotations

import asyncio
import functools
import logging
import sys
from collections.abc import Callable, Coroutine
from contextlib import AbstractAsyncContextManager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.markup import escape

from bot.config import Config, default_config_path, load_config
from bot.errors import RapportError, ServiceUnavailable, find_outage, mask_url_passwords
from bot.logs import configure_logging

if TYPE_CHECKING:  # imported when a command opens the runtime: `--help` and `config check` never load it
    from bot.handoff.desk import Desk
    from bot.runtime import Runtime

ConfigOption = Annotated[
    Path | None,
    typer.Option("--config", "-c", help="config.yaml to use (else $RAPPORT_CONFIG, else ./config.yaml).",
                 dir_okay=False, show_default=False),
]
DataDirOption = Annotated[
    Path | None,
    typer.Option("--data-dir", help="Where embedded stores live (else $RAPPORT_DATA_DIR, else ./data).",
                 file_okay=False, show_default=False),
]

stderr = Console(stderr=True, soft_wrap=True)
T = TypeVar("T")


def load(config_path: Path | None, data_dir: Path | None) -> tuple[Config, Path]:
    from bot.runtime import resolve_data_dir

    return load_config(config_path or default_config_path()), resolve_data_dir(data_dir)


def open_runtime(config: Config, data_dir: Path, desk: Desk | None = None) -> AbstractAsyncContextManager[Runtime]:
    """``Runtime.open``: the stores, models and engine, whose imports (~3 s of CPU on a busy machine) only
    the commands that open them pay for."""
    from bot.runtime import Runtime

    return Runtime.open(config, data_dir, desk=desk)


def run_async(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coro)


def reports_errors(command: Callable[..., T]) -> Callable[..., T]:
    """Turn a RapportError, or a dependency that cannot be reached (database, Redis, Chroma server), into
    one message and its fix on stderr and exit code 1; no traceback. Anything else is a bug: its traceback
    is what a report needs."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> T:
        configure_logging(logging.WARNING)  # text, or one JSON object a line with RAPPORT_LOG_FORMAT=json
        try:
            return command(*args, **kwargs)
        except RapportError as error:
            _print_error(str(error))
            raise typer.Exit(1) from None
        except BrokenPipeError:
            # Our output's reader went away (`rapport sentiment FILE | head`): nothing is wrong, no network is down.
            _stop_writing_to_the_closed_pipe()
            raise typer.Exit(0) from None
        except Exception as error:
            outage = find_outage(error)
            if outage is None:
                raise
            _print_error(f"{outage}\n  fix: {outage.fix}")
            raise typer.Exit(1) from None

    return wrapper


def _stop_writing_to_the_closed_pipe() -> None:
    """Point stdout at /dev/null, so the interpreter's flush at exit does not fail on the closed pipe again
    (the way Python's documentation on SIGPIPE describes)."""
    import os

    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())


def _print_error(text: str) -> None:
    # The text is escaped: a message may quote brackets from the config ("[a, b]"), which are not markup.
    stderr.print("[bold red]error:[/]", escape(mask_url_passwords(text)), highlight=False, soft_wrap=True)


async def require_services(runtime: Runtime) -> None:
    """Stop start-up with one clear error when a configured dependency is down (Redis is otherwise only
    used, and found unreachable, by the first turn)."""
    report = await runtime.health()
    down = [f"{name}: {check.get('error', 'down')}" for name, check in report["checks"].items()
            if check["status"] != "ok"]
    if down:
        raise ServiceUnavailable(
            "cannot reach " + "; ".join(down),
            fix="check stores.database_url (DATABASE_URL), stores.redis_url (REDIS_URL) and stores.chroma_url, and "
                "that those servers are running; leave a URL empty for the embedded default",
        )
