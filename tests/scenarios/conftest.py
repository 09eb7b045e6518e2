"""Fixtures for the scenario runner's tests: scenario files written in tmp_path, and `rapport test` in-process."""

from __future__ import annotations

import functools
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner, Result

from bot.cli import scenarios as scenarios_cli
from bot.scenarios.runner import ScenarioRunner

ROOT = Path(__file__).resolve().parents[2]
CONFIG = ROOT / "config.yaml"
SAMPLES = ROOT / "samples"


@pytest.fixture
def write_yaml(tmp_path: Path) -> Callable[[str, str], Path]:
    def write(text: str, name: str = "scenarios.yaml") -> Path:
        path = tmp_path / name
        path.write_text(textwrap.dedent(text).replace("{samples}", str(SAMPLES)), encoding="utf-8")
        return path

    return write


@pytest.fixture
def rapport_test(monkeypatch: pytest.MonkeyPatch, ingested_data: Path) -> Callable[..., Result]:
    """`rapport test ARGS…` as the real command line runs it, but starting from the session's ingested
    knowledge instead of indexing knowledge/ again (the runner still re-checks it for changes)."""
    monkeypatch.setattr(scenarios_cli, "ScenarioRunner", functools.partial(ScenarioRunner, seed=ingested_data))
    app = typer.Typer()

    @app.callback()
    def main() -> None:
        """rapport"""

    scenarios_cli.register(app)

    def invoke(*args: str) -> Result:
        return CliRunner().invoke(app, ["test", *args, "--config", str(CONFIG)])

    return invoke
