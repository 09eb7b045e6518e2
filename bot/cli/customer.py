"""``rapport customer show|journey|export|forget REF``: what staff may see and do for one customer."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from bot.cli.options import ConfigOption, DataDirOption, load, open_runtime, reports_errors, run_async

app = typer.Typer(help="Look up, export or forget one customer (REF: external id or email).", no_args_is_help=True)
out = Console()
Ref = Annotated[str, typer.Argument(help="External customer id (e.g. C-1001) or email address.")]


@app.command()
@reports_errors
def show(ref: Ref, config: ConfigOption = None, data_dir: DataDirOption = None) -> None:
    """Profile and insights: orders, value, favourite categories, open issues, preferences, stage."""
    cfg, data = load(config, data_dir)

    async def run() -> None:
        async with open_runtime(cfg, data) as runtime:
            customer = await runtime.customers.find(ref)
            insights = await runtime.insights.build(customer)
            out.print(f"[bold]{customer.name}[/] ({customer.external_id or customer.id}) {customer.email or ''}")
            for key, value in sorted((customer.attributes or {}).items()):
                out.print(f"  {key}: {value}", highlight=False)
            for line in insights.lines():
                out.print(f"  • {line}", highlight=False)

    run_async(run())


@app.command()
@reports_errors
def journey(ref: Ref, config: ConfigOption = None, data_dir: DataDirOption = None) -> None:
    """The customer's timeline across platforms: conversations, orders, tickets, feedback, handoffs, links."""
    cfg, data = load(config, data_dir)

    async def run() -> None:
        async with open_runtime(cfg, data) as runtime:
            customer = await runtime.customers.find(ref)
            insights = await runtime.insights.build(customer)
            table = Table(title=f"{customer.name or customer.id} — stage: {insights.stage}")
            for column in ("when", "what", "where", "detail"):
                table.add_column(column)
            assert customer.id is not None
            from bot.customers.journey import timeline

            for point in await timeline(runtime.database, customer.id):
                table.add_row(f"{point.at:%Y-%m-%d %H:%M}", point.kind, point.channel, point.detail)
            out.print(table)

    run_async(run())


@app.command()
@reports_errors
def export(ref: Ref, config: ConfigOption = None, data_dir: DataDirOption = None) -> None:
    """Print everything stored about the customer as JSON (SQL rows and memories)."""
    cfg, data = load(config, data_dir)

    async def run() -> dict[str, object]:
        async with open_runtime(cfg, data) as runtime:
            customer = await runtime.customers.find(ref)
            assert customer.id is not None
            return await runtime.privacy.export(customer.id)

    print(json.dumps(run_async(run()), indent=2, ensure_ascii=False, default=str))


@app.command()
@reports_errors
def forget(
    ref: Ref,
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask for confirmation.")] = False,
    config: ConfigOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """Delete the customer from SQL and every vector collection. Asks first unless --yes."""
    cfg, data = load(config, data_dir)

    async def run() -> str:
        async with open_runtime(cfg, data) as runtime:
            customer = await runtime.customers.find(ref)
            assert customer.id is not None
            if not yes and not typer.confirm(f"Delete {customer.name or ref} and everything stored about them?"):
                raise typer.Abort()
            await runtime.privacy.forget(customer.id)
            return customer.name or ref

    print(f"forgot {run_async(run())}")
