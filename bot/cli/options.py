"""Options every command takes, and the one place CLI errors become messages and exit codes."""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console

from bot.config import Config, default_config_path, load_config
from bot.errors import RapportError
from bot.runtime import resolve_data_dir

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
    return load_config(config_path or default_config_path()), resolve_data_dir(data_dir)


def run_async(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coro)


def reports_errors(command: Callable[..., T]) -> Callable[..., T]:
    """Turn a RapportError into its message and fix on stderr and exit code 1; no traceback."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> T:
        logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
        try:
            return command(*args, **kwargs)
        except RapportError as error:
            stderr.print(f"[bold red]error:[/] {error}", highlight=False, markup=True, soft_wrap=True)
            raise typer.Exit(1) from None

    return wrapper
