"""``rapport``: chat, ingest, config and db commands.

Each command imports what it uses when it runs: the runtime (stores, models, engine) for the commands
that open it, Alembic for ``db upgrade``, the terminal's adapter for ``chat``. ``rapport --help`` and
``rapport config check`` load none of them, and ``rapport serve`` loads only what its config enables.
"""

from __future__ import annotations

import getpass
import itertools
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from bot.cli import customer, evaluate, platforms, review, scenarios
from bot.cli.options import (ConfigOption, DataDirOption, load, open_runtime, reports_errors, require_services,
                             run_async, stderr)
from bot.config import Config, config_schema, default_config_path, load_config
from bot.errors import ConfigError, RapportError

if TYPE_CHECKING:
    from bot.customers.importer import FileReport
    from bot.knowledge.ingest import IngestReport
    from bot.runtime import Runtime
    from bot.types import ConversationKey

app = typer.Typer(help="Rapport, a personalized customer-support bot.", no_args_is_help=True, add_completion=False)
config_app = typer.Typer(help="Check config.yaml or print its JSON Schema.", no_args_is_help=True)
db_app = typer.Typer(help="Database schema migrations.", no_args_is_help=True)
app.add_typer(config_app, name="config")
app.add_typer(db_app, name="db")
app.add_typer(customer.app, name="customer")
app.add_typer(evaluate.app, name="eval")
app.add_typer(review.app, name="review")
platforms.register(app)
scenarios.register(app)


@app.command()
@reports_errors
def chat(
    as_customer: Annotated[str | None, typer.Option("--as", help="Speak as this customer (external id or email).")] = None,
    json_output: Annotated[bool, typer.Option("--json", help="Print one JSON object per reply.")] = False,
    config: ConfigOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """Talk to the bot in this terminal. Without a terminal, reads one message per line from stdin."""
    cfg, data = load(config, data_dir)
    run_async(_chat(cfg, data, as_customer, json_output))


async def _chat(cfg: Config, data: Path, as_customer: str | None, json_output: bool) -> None:
    from adapters.console import PLATFORM, WORKSPACE, ConsoleAdapter, ConsoleDesk

    # The terminal is the agents' desk here: handoff summaries print, `/agent …` answers them.
    async with open_runtime(cfg, data, desk=ConsoleDesk(json_output=json_output)) as runtime:
        await require_services(runtime)  # else an unreachable Redis fails only the first message
        if await runtime.knowledge.is_empty():
            stderr.print("First run: indexing knowledge/ …")
            _print_report(await _ingest_with_progress(runtime), quiet=True)
        user_id, name = f"user:{getpass.getuser()}", ""
        if as_customer:
            customer = await runtime.customers.find(as_customer)
            user_id, name = f"customer:{customer.id}", customer.name
            await runtime.customers.attach(customer, PLATFORM, WORKSPACE, user_id)
        agent_turns = itertools.count(1)

        async def as_agent(conversation: ConversationKey, text: str) -> None:
            """/agent claim | /agent resolve | /agent <message>: the local desk's agent, for trying handoffs."""
            handoff = await runtime.desk.book.open_for(str(conversation))
            if handoff is None or handoff.id is None:
                stderr.print("[dim](no open handoff in this conversation; ask for a person first)[/]")
                return
            await runtime.desk.agent_says(handoff.id, "console-agent", text,
                                          f"console-agent-{conversation.thread}-{next(agent_turns)}")

        adapter = ConsoleAdapter(user_id, name, json_output=json_output, bot_name=cfg.brand.bot_name, agent=as_agent)
        runtime.delivery.add_sender(PLATFORM, adapter.send)  # the agent's relays, through the outbox
        if (streams := getattr(runtime.engine.compose, "streams", None)) is not None:  # an LLM writes replies
            streams.register(PLATFORM, adapter.stream_for)  # its checked sentences print as they come
        await adapter.start(runtime.delivery.answer_inline)


@app.command()
@reports_errors
def ingest(
    reindex_all: Annotated[bool, typer.Option("--reindex", help="Rebuild every vector (knowledge, catalog, memories) from scratch.")] = False,
    config: ConfigOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """Chunk, embed and index knowledge/ (only files that changed since the last run)."""
    cfg, data = load(config, data_dir)

    async def run() -> IngestReport:
        if reindex_all:
            from bot.runtime import reindex

            await reindex(cfg, data)
        async with open_runtime(cfg, data) as runtime:
            report = await _ingest_with_progress(runtime)
            if reindex_all:
                stderr.print(f"memories: {await runtime.rebuild_memories()} rebuilt from the database")
            return report

    report = run_async(run())
    _print_report(report, quiet=False)
    if report.problems:
        raise typer.Exit(1)


async def _ingest_with_progress(runtime: Runtime) -> IngestReport:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    files = runtime.knowledge_files()
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), console=stderr,
                  transient=True) as bar:
        task = bar.add_task("ingest", total=files.count())

        def advance(source: str, done: int) -> None:
            bar.update(task, completed=done, description=source)

        report = await runtime.ingest(advance)
        bar.update(task, completed=files.count())
    return report


def _print_report(report: IngestReport, quiet: bool) -> None:
    if not quiet or report.changed:
        stderr.print(
            f"knowledge: {len(report.added)} added, {len(report.updated)} updated, "
            f"{len(report.unchanged)} unchanged, {len(report.removed)} removed "
            f"({report.chunks} sections, {report.products} products indexed)"
        )
    for problem in report.problems:
        stderr.print(f"[yellow]skipped[/] {problem.path}: {problem.reason}", highlight=False)


@app.command("import")
@reports_errors
def import_data(
    paths: Annotated[list[Path], typer.Argument(help="CSV or JSON Lines files: customers, orders, events, tickets.")],
    skip_bad: Annotated[bool, typer.Option("--skip-bad", help="Import the good rows of a file that has bad ones.")] = False,
    config: ConfigOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """Import customer data; each file is recognised by its header and upserted by id."""
    cfg, data = load(config, data_dir)

    async def run() -> list[FileReport]:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn

        async with open_runtime(cfg, data) as runtime:
            with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), console=stderr,
                          transient=True) as bar:
                tasks: dict[str, TaskID] = {}

                def advance(file: str, done: int, total: int) -> None:
                    if file not in tasks:
                        tasks[file] = bar.add_task(file, total=total)
                    bar.update(tasks[file], completed=done)

                return await runtime.import_files(paths, skip_bad=skip_bad, progress=advance)

    reports = run_async(run())
    failed = False
    for report in reports:
        for problem in report.problems:
            stderr.print(f"[red]bad row[/] {problem}", highlight=False)
        if report.skipped_file:
            failed = True
            stderr.print(f"{report.file}: {len(report.problems)} bad row(s); nothing of this file was imported "
                         "(fix them, or pass --skip-bad to import the good rows)", highlight=False)
        else:
            print(f"{report.file}: {report.written} {report.kind} imported"
                  + (f", {len(report.problems)} bad row(s) skipped" if report.problems else ""))
    if failed:
        raise typer.Exit(1)


@app.command()
@reports_errors
def recommend(
    ref: Annotated[str, typer.Argument(help="Customer external id or email.")],
    query: Annotated[str | None, typer.Option("--query", help="What they are asking about, e.g. 'something for my puppy'.")] = None,
    json_output: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    config: ConfigOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """Suggestions for one customer, each with the reason drawn from their data."""
    cfg, data = load(config, data_dir)

    async def run() -> tuple[list[dict[str, object]], str | None]:
        async with open_runtime(cfg, data) as runtime:
            if await runtime.knowledge.is_empty():
                await runtime.ingest()
            customer = await runtime.customers.find(ref)
            assert customer.id is not None
            insights = await runtime.insights.build(customer)
            # The same reading as in chat: a stated need, recipient or budget picks the candidates.
            vector = runtime.embedder.embed([query])[0] if query else None
            found = await runtime.advisor.suggest_for(customer.id, insights.owned_skus, query or "", vector,
                                                      runtime.embedder,
                                                      min_similarity=cfg.thresholds.product_min_similarity)
            picks = [
                {"sku": p.sku, "name": p.name, "price": p.price, "reason": p.reason, "score": p.score,
                 "stock": runtime.catalog.products[p.sku].stock}
                for p in found.items
            ]
            return picks, found.no_match_reason

    picks, no_match = run_async(run())
    if json_output:
        print(json.dumps(picks))
        if no_match:
            print(no_match, file=sys.stderr)
        return
    for pick in picks:
        print(f"{pick['sku']:<14} {pick['name']} — ${pick['price']:,.2f} ({pick['stock']} in stock)\n    because: {pick['reason']}")
    if not picks:
        print(f"no suggestions: {no_match}" if no_match
              else "no suggestions (everything that fits is out of stock, owned or excluded)")


@config_app.command("check")
def config_check(path: Annotated[Path | None, typer.Argument(help="Config file (default: --config or ./config.yaml).")] = None,
                 config: ConfigOption = None) -> None:
    """Print `ok`, or every problem with its key, bad value and fix (exit code 1)."""
    target = path or config or default_config_path()
    from bot.runtime import check_names  # the intent file's labels, checked against the config

    try:
        check_names(load_config(target))
    except ConfigError as error:
        print(error.message, file=sys.stderr)
        for problem in error.problems:
            print(f"  - {problem}", file=sys.stderr)
        if error.fix:
            print(f"  fix: {error.fix}", file=sys.stderr)
        raise typer.Exit(1) from None
    print("ok")


@config_app.command("schema")
def config_schema_command() -> None:
    """Print the JSON Schema of config.yaml (point your editor's YAML plugin at it)."""
    print(json.dumps(config_schema(), indent=2))


@db_app.command("upgrade")
@reports_errors
def db_upgrade(config: ConfigOption = None, data_dir: DataDirOption = None) -> None:
    """Apply pending schema migrations (the release phase runs this)."""
    cfg, data = load(config, data_dir)
    from bot.runtime import database_url
    from bot.store import migrations
    from bot.store.database import Database

    async def run() -> tuple[str | None, str | None]:
        database = Database(database_url(cfg), data)
        try:
            before = await migrations.current_revision(database)
            await migrations.upgrade(database)
            return before, await migrations.current_revision(database)
        finally:
            await database.close()

    before, after = run_async(run())
    print(f"database at {after} (was {before or 'empty'})")


def main() -> None:
    app()


def _text_lines(path: Path) -> list[str]:
    try:
        return path.read_text(encoding="utf-8").splitlines()
    except UnicodeDecodeError as error:
        raise RapportError(f"{path}: not UTF-8 text (byte {error.start})", fix="save the file as UTF-8") from None


@app.command()
@reports_errors
def sentiment(
    files: Annotated[list[Path] | None, typer.Argument(help="Text files, one text per line (default: stdin).",
                                                       exists=True, dir_okay=False, readable=True)] = None,
    config: ConfigOption = None,
) -> None:
    """Score one text per line: prints {"label", "score", "confidence"} as one JSON object per line."""
    from bot.embedder import load_embedder
    from bot.sentiment import load_scorer

    cfg = load_config(config or default_config_path())
    scorer = load_scorer(cfg.models.sentiment)
    embedder = load_embedder(cfg.models.embedder)
    lines = [line for path in files for line in _text_lines(path)] if files else [line.rstrip("\n") for line in sys.stdin]
    batch = 256
    for start in range(0, len(lines), batch):
        chunk = lines[start : start + batch]
        vectors = embedder.embed([text or " " for text in chunk])
        for text, vector in zip(chunk, vectors, strict=True):
            result = scorer.score_embedding(text, vector)
            print(json.dumps({"label": result.label.value, "score": result.score, "confidence": result.confidence}))
