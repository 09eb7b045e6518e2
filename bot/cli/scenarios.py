"""``rapport test FILE…``: run conversation scenarios through the real engine and report every check."""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape

from bot.cli.options import ConfigOption, reports_errors, run_async, stderr
from bot.config import default_config_path, load_config

if TYPE_CHECKING:  # bot.scenarios imports its runner, and so the runtime: each is imported where it is used
    from bot.scenarios.model import LoadedFile
    from bot.scenarios.results import RunResult
    from bot.scenarios.runner import ScenarioRunner


def __getattr__(name: str) -> Any:
    """``ScenarioRunner`` imports the runtime (stores, models, engine): loaded when `rapport test` runs, or
    when a test replaces it, not by every command that imports this module to register `rapport test`."""
    if name == "ScenarioRunner":
        from bot.scenarios.runner import ScenarioRunner

        globals()[name] = ScenarioRunner
        return ScenarioRunner
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

SCHEMA_ERROR = 2  # a file does not follow the format: nothing was run
FAILED = 1

EXAMPLE = """\
# A scenario file (YAML). Fixture paths are relative to the file.
fixtures:                       # optional; imported once per file
  files: [../../samples/customers.csv, ../../samples/orders.csv]   # as `rapport import` reads them
  customers: [{customer_id: C-9001, name: Dana Reyes, email: dana@example.com}]
  orders: [{order_id: "9001", customer_id: C-9001, sku: PET-BED-01, quantity: 1, unit_price: 89,
            status: delivered, ordered_at: 2026-10-02}]
scenarios:
  - name: Ana asks about someone else's order
    customer: C-1001            # external id or email; leave out for a stranger
    platform: slack             # console (default) | slack | telegram | discord
    place: dm                   # dm (default) | channel (shared, the bot @mentioned)
    external: false             # a Slack Connect user from another organisation
    tags: [other-customers-order]
    steps:
      - say: status of order 1043?
        expect:
          contains: ["1043"]        # every one, case-insensitive
          contains_any: [can't find, cannot find, not on your account]
          not_contains: ["1042", Ben, dog food]
          handoff: false
      - say: and my lamp?
        conversation: same          # same (default) | new
        expect: {source: orders, intent: order_status, action: order_status}
      - agent: claim                # the desk, for this conversation's open handoff
"""
KEYS = """\
Keys of expect: silent, intent, action, contains, contains_any, not_contains, matches, not_matches (regex),
source, not_source (page path, file name or stem), handoff, sentiment (negative|neutral|positive),
recommends {sku, category, not_sku, none}, private, files (fnmatch), file_contains, offers (suggestion buttons).
"""


def register(app: typer.Typer) -> None:
    """Add ``rapport test`` to the command line."""

    @app.command("test", epilog="The file format, with every key: `rapport test --example`.")
    @reports_errors
    def test_command(
        paths: Annotated[list[Path], typer.Argument(help="Scenario files, or folders of *.yaml files.")],
        json_output: Annotated[bool, typer.Option("--json", help="Print the results as one JSON object.")] = False,
        verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Show every step and check, passing too.")] = False,
        config: ConfigOption = None,
        data_dir: Annotated[
            Path | None,
            typer.Option("--data-dir", file_okay=False, show_default=False,
                         help="Build the run's data directories here and keep them (must be empty or absent); "
                              "default: a temporary directory, removed afterwards. Never your real data."),
        ] = None,
        _example: Annotated[
            bool,
            typer.Option("--example", is_eager=True, callback=_print_example,
                         help="Print an example scenario file with every key explained, and exit."),
        ] = False,
    ) -> None:
        """Run conversation scenarios in a fresh data directory; exit 1 if any check fails, 2 if a file is invalid."""
        cfg = load_config(config or default_config_path())
        files = _load_all(paths)
        out = Console(stderr=json_output, soft_wrap=True)
        work = _work_dir(data_dir)
        from bot.scenarios.report import print_scenario, print_summary

        runner_class = globals().get("ScenarioRunner") or __getattr__("ScenarioRunner")  # a test may have replaced it
        try:
            runner = runner_class(cfg, work, keep=data_dir is not None,
                                    progress=lambda result: print_scenario(out, result, verbose))
            out.print(f"[dim]{sum(len(f.content.scenarios) for f in files)} scenarios in {len(files)} file(s); "
                      "indexing knowledge/ first …[/]", highlight=False)
            result: RunResult = run_async(runner.run(files))
        finally:
            if data_dir is None:
                shutil.rmtree(work, ignore_errors=True)
        print_summary(out, result)
        if json_output:
            print(json.dumps(result.as_json(), ensure_ascii=False))
        if not result.passed:
            raise typer.Exit(FAILED)


def _print_example(value: bool) -> None:
    if value:
        print(EXAMPLE + "\n" + KEYS, end="")
        raise typer.Exit()


def scenario_files(paths: list[Path]) -> list[Path]:
    """Files as given; folders expanded to their *.yaml and *.yml files, sorted."""
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            found += sorted(p for p in path.iterdir() if p.suffix in {".yaml", ".yml"} and p.is_file())
        else:
            found.append(path)
    return found


def _load_all(paths: list[Path]) -> list[LoadedFile]:
    """Every file checked before anything runs; all their mistakes reported at once (exit 2)."""
    from bot.scenarios.model import ScenarioFileError, load_file

    files, problems = [], []
    targets = scenario_files(paths)
    if not targets:
        problems.append(f"no scenario files in {', '.join(map(str, paths))} (looked for *.yaml and *.yml)")
    for path in targets:
        try:
            files.append(load_file(path))
        except ScenarioFileError as error:
            problems.append(error.message)
    if problems:
        for problem in problems:
            stderr.print(f"[bold red]error:[/] {escape(problem)}", highlight=False)
        stderr.print("  fix: every key is shown by `rapport test --example`; unknown keys are errors, so a typo "
                     "cannot silently turn a check off", highlight=False)
        raise typer.Exit(SCHEMA_ERROR)
    return files


def _work_dir(data_dir: Path | None) -> Path:
    from bot.scenarios.model import ScenarioFileError

    if data_dir is None:
        return Path(tempfile.mkdtemp(prefix="rapport-test-"))
    if data_dir.exists() and any(data_dir.iterdir()):
        raise ScenarioFileError(f"--data-dir {data_dir} is not empty",
                                fix="give a new or empty folder; the run fills it with one data directory per scenario")
    data_dir.mkdir(parents=True, exist_ok=True)
    return data_dir
