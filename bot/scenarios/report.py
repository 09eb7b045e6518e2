"""The report of a run, for the admin who edited knowledge/ or config.yaml: what failed, and why."""

from __future__ import annotations

from collections import defaultdict

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from bot.scenarios.results import RunResult, ScenarioResult, StepResult

UNTAGGED = "(no tag)"


def print_scenario(console: Console, result: ScenarioResult, verbose: bool = False) -> None:
    """One line for a passing scenario; every step and check of a failing one (of all, with ``verbose``)."""
    mark = "[green]✓[/]" if result.passed else "[red]✗[/]"
    console.print(f"{mark} [bold]{escape(result.name)}[/] [dim]{escape(result.file)} · {result.seconds:.1f}s[/]",
                  highlight=False)
    if result.passed and not verbose:
        return
    if result.error:
        console.print(f"    [red]could not run:[/] {escape(result.error)}", highlight=False)
    for step in result.steps:
        _print_step(console, step, verbose)


def _print_step(console: Console, step: StepResult, verbose: bool) -> None:
    who = "agent" if step.kind == "agent" else "you"
    console.print(f"  [cyan]{who} ›[/] {escape(step.text)} [dim]({step.platform})[/]", highlight=False)
    if step.error:
        console.print(f"    [red]✗ {escape(step.error)}[/]", highlight=False)
        return
    decided = ", ".join(part for part in (f"action {step.action}" if step.action else "",
                                          f"intent {step.intent}" if step.intent else "") if part)
    reply = "(no reply)" if step.reply is None else _short(step.reply)
    console.print(f"  [green]bot ›[/] {escape(reply)}" + (f" [dim]({decided})[/]" if decided else ""),
                  highlight=False)
    for c in step.checks:
        if c.passed and not verbose:
            continue
        if c.passed:
            console.print(f"    [green]✓[/] {c.name}: {escape(c.expected)}", highlight=False)
        else:
            console.print(f"    [red]✗ {c.name}[/]: expected {escape(c.expected)} — got {escape(c.got)}",
                          highlight=False)


def print_summary(console: Console, run: RunResult) -> None:
    passed, total = run.check_counts
    scenarios_ok = sum(s.passed for s in run.scenarios)
    for problem in run.knowledge_problems:
        console.print(f"[yellow]knowledge problem:[/] {escape(problem)}", highlight=False)
    failing = [s for s in run.scenarios if not s.passed]
    if failing:
        by_tag: dict[str, list[str]] = defaultdict(list)
        for s in failing:
            for tag in s.tags or (UNTAGGED,):
                by_tag[tag].append(s.name)
        table = Table(title="Failing scenarios by tag", show_lines=False, title_justify="left")
        table.add_column("tag")
        table.add_column("failing", justify="right")
        table.add_column("scenarios")
        for tag, names in sorted(by_tag.items(), key=lambda item: (-len(item[1]), item[0])):
            table.add_row(escape(tag), str(len(names)), escape("; ".join(names)))
        console.print(table)
    colour = "green" if run.passed else "red"
    console.print(f"[bold {colour}]{scenarios_ok}/{len(run.scenarios)} scenarios passed[/], "
                  f"{passed}/{total} checks ({run.pass_rate:.1%}) in {run.seconds:.1f}s", highlight=False)


def _short(text: str, width: int = 300) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= width else flat[: width - 1] + "…"
