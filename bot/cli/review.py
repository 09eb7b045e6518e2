"""``rapport review list|approve|reject|export|gaps``: agents' answers waiting to become knowledge, and the
questions nobody answered."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import click
import typer
from rich.console import Console
from rich.table import Table

from bot.cli.options import ConfigOption, DataDirOption, load, open_runtime, reports_errors, run_async
from bot.errors import ReviewError
from bot.store.statuses import ReviewStatus

if TYPE_CHECKING:  # the queue's rows and the learning modules load with the runtime, in the commands
    from bot.store.review import ReviewRecord

app = typer.Typer(help="Review agents' answers from handoffs (approve them into knowledge) and knowledge gaps.",
                  no_args_is_help=True)
out = Console(soft_wrap=True)
ItemId = Annotated[int, typer.Argument(help="The review item's id (see `rapport review list`).", min=1)]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]
# What `--edit` opens in $EDITOR: the question on the first line, this line, then the answer.
DIVIDER = "---- the answer (the question is the first line above) ----"


def _plain(item: ReviewRecord) -> dict[str, object]:
    data = asdict(item)
    data["status"] = str(item.status)
    for key in ("created_at", "decided_at"):
        data[key] = data[key].isoformat() if data[key] else None
    return data


@app.command("list")
@reports_errors
def list_items(
    status: Annotated[ReviewStatus | None, typer.Option(help="Only items in this state.")] = None,
    json_output: JsonOption = False, config: ConfigOption = None, data_dir: DataDirOption = None,
) -> None:
    """Candidates from resolved handoffs, newest first: the customer's question and the agent's answer."""
    cfg, data = load(config, data_dir)

    async def run() -> list[ReviewRecord]:
        async with open_runtime(cfg, data) as runtime:
            return await runtime.team_answers.queue.items(status)

    items = run_async(run())
    if json_output:
        print(json.dumps([_plain(i) for i in items], indent=2, ensure_ascii=False))
        return
    table = Table(title="Review queue")
    for column in ("id", "status", "handoff", "question", "answer"):
        table.add_column(column)
    for item in items:
        table.add_row(str(item.id), item.status, f"#{item.handoff_id}", item.question, item.answer)
    out.print(table if items else "Nothing to review: candidates appear when an agent resolves a handoff.")


def _edited(text: str) -> tuple[str, str]:
    if DIVIDER not in text:
        raise ReviewError("the edited text lost its divider line", fix=f"keep the line '{DIVIDER}'")
    question, answer = text.split(DIVIDER, 1)
    return question.strip(), answer.strip()


@app.command()
@reports_errors
def approve(
    item_id: ItemId,
    edit: Annotated[bool, typer.Option("--edit", help="Edit the question and answer in $EDITOR first.")] = False,
    text: Annotated[str | None, typer.Option("--text", help="The answer to approve instead of the agent's words.")] = None,
    question: Annotated[str | None, typer.Option("--question", help="The question to approve instead.")] = None,
    config: ConfigOption = None, data_dir: DataDirOption = None,
) -> None:
    """Approve an answer: it becomes a knowledge section ("Answered by our team") that answers at once."""
    cfg, data = load(config, data_dir)

    async def run() -> ReviewRecord:
        async with open_runtime(cfg, data) as runtime:
            answers = runtime.team_answers
            new_question, new_answer = question, text
            if edit:
                item = await answers.queue.get(item_id)
                if item is None:
                    raise ReviewError(f"there is no review item #{item_id}", fix="see `rapport review list` for the ids")
                draft = f"{new_question or item.question}\n{DIVIDER}\n{new_answer or item.answer}\n"
                edited = click.edit(draft, extension=".md")
                if edited is None:  # the editor closed without saving
                    raise ReviewError(f"review item #{item_id} was not approved: the edit was not saved",
                                      fix="save the file before closing the editor, or use --text")
                new_question, new_answer = _edited(edited)
            return await answers.approve(item_id, new_question, new_answer)

    item = run_async(run())
    out.print(f"Approved #{item.id}: customers asking “{item.question}” now get this answer.", highlight=False)


@app.command()
@reports_errors
def reject(item_id: ItemId, config: ConfigOption = None, data_dir: DataDirOption = None) -> None:
    """Reject a candidate: nothing reaches knowledge."""
    cfg, data = load(config, data_dir)

    async def run() -> ReviewRecord:
        async with open_runtime(cfg, data) as runtime:
            return await runtime.team_answers.reject(item_id)

    item = run_async(run())
    out.print(f"Rejected #{item.id}.")


@app.command()
@reports_errors
def export(
    out_dir: Annotated[Path | None, typer.Option("--out", help="Folder to write to (default: the knowledge pages folder).",
                                                  file_okay=False)] = None,
    config: ConfigOption = None, data_dir: DataDirOption = None,
) -> None:
    """Write every approved answer as one Markdown page (answered-by-our-team.md) to commit to knowledge/."""
    cfg, data = load(config, data_dir)

    async def run() -> tuple[Path, int]:
        async with open_runtime(cfg, data) as runtime:
            folder = out_dir or runtime.knowledge_files().pages_dir
            path = await runtime.team_answers.export(folder)
            return path, len(await runtime.team_answers.queue.items(ReviewStatus.APPROVED, limit=100_000))

    path, count = run_async(run())
    from bot.learning.review import EXPORT_FILE

    out.print(f"Wrote {count} approved answer(s) to {path}. Commit it; `rapport ingest` then serves it from the "
              f"file (its {EXPORT_FILE} sections replace the review copies).", highlight=False)


@app.command()
@reports_errors
def gaps(
    limit: Annotated[int, typer.Option("--limit", help="How many groups to show.", min=1, max=500)] = 20,
    json_output: JsonOption = False, config: ConfigOption = None, data_dir: DataDirOption = None,
) -> None:
    """Questions the bot could not answer, grouped by meaning, biggest group first: the pages to write next."""
    cfg, data = load(config, data_dir)

    async def run() -> list[dict[str, object]]:
        from bot.learning.gaps import KnowledgeGaps

        async with open_runtime(cfg, data) as runtime:
            clusters = await KnowledgeGaps(runtime.team_answers.queue, runtime.embedder).clusters(limit)
        return [{"count": c.count, "examples": list(c.examples), "platforms": list(c.platforms),
                 "last_asked": c.last_asked.isoformat()} for c in clusters]

    groups = run_async(run())
    if json_output:
        print(json.dumps(groups, indent=2, ensure_ascii=False))
        return
    table = Table(title="Knowledge gaps")
    for column in ("asked", "examples", "platforms", "last asked"):
        table.add_column(column)
    for group in groups:
        table.add_row(str(group["count"]), "\n".join(group["examples"]),  # type: ignore[arg-type]
                      ", ".join(group["platforms"]), str(group["last_asked"])[:16])  # type: ignore[arg-type]
    out.print(table if groups else "No unanswered questions yet.")
