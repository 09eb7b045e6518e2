"""`rapport import`: recognised by header, one transaction per file, idempotent, clear about bad rows."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from sqlmodel import func, select

from bot.customers.importer import ImportError_
from bot.runtime import Runtime
from bot.store.tables import Customer, Order, OrderLine, ProductEvent, Ticket

ROOT = Path(__file__).resolve().parents[2]


async def counts(runtime: Runtime) -> dict[str, int]:
    async with runtime.database.session() as session:
        return {
            table.__name__: (await session.exec(select(func.count()).select_from(table))).one()
            for table in (Customer, Order, OrderLine, ProductEvent, Ticket)
        }


async def test_sample_data_imports_and_reimporting_changes_nothing(sampled: Runtime) -> None:
    first = await counts(sampled)
    assert first == {"Customer": 36, "Order": 90, "OrderLine": 129, "ProductEvent": 218, "Ticket": 40}
    async with sampled.database.session() as session:
        before = [c.model_dump() for c in (await session.exec(select(Customer).order_by(Customer.id))).all()]
    reports = await sampled.importer().import_files(sorted((ROOT / "samples").glob("*.csv")))
    assert all(not r.problems for r in reports)
    assert await counts(sampled) == first
    async with sampled.database.session() as session:
        after = [c.model_dump() for c in (await session.exec(select(Customer).order_by(Customer.id))).all()]
    assert [{k: v for k, v in c.items() if k not in {"last_seen_at", "created_at"}} for c in after] == [
        {k: v for k, v in c.items() if k not in {"last_seen_at", "created_at"}} for c in before
    ]


async def test_a_bad_row_names_file_line_and_reason_and_leaves_the_database_unchanged(
    sampled: Runtime, tmp_path: Path
) -> None:
    before = await counts(sampled)
    orders = tmp_path / "orders.csv"
    orders.write_text(
        "order_id,customer_id,sku,quantity,unit_price,status,ordered_at\n"
        "2001,C-1001,LMP-DESK-01,1,89.00,processing,2026-11-20T10:00:00Z\n"
        "2002,C-9999,LMP-DESK-01,1,89.00,processing,2026-11-20T10:00:00Z\n"
        "2003,C-1002,LMP-DESK-01,1,89.00,processing,last tuesday\n"
    )
    (report,) = await sampled.importer().import_files([orders])
    assert [str(p) for p in report.problems] == [
        f"{orders}:3: unknown customer 'C-9999' (import customers first)",
        f"{orders}:4: ordered_at 'last tuesday' is not a date (use ISO 8601, e.g. 2026-11-24T09:30:00Z)",
    ]
    assert report.skipped_file and report.written == 0
    assert await counts(sampled) == before

    (partial,) = await sampled.importer().import_files([orders], skip_bad=True)
    assert partial.written == 1
    assert (await counts(sampled))["Order"] == before["Order"] + 1


async def test_missing_column_and_unknown_header_are_refused_with_the_expected_header(
    runtime: Runtime, tmp_path: Path
) -> None:
    tickets = tmp_path / "tickets.csv"
    tickets.write_text("ticket_id,customer_id,subject\nT-1,C-1,Hello\n")
    with pytest.raises(ImportError_, match=r"missing column\(s\) \['body', 'resolution', 'created_at'\]"):
        await runtime.importer().import_files([tickets])
    mystery = tmp_path / "mystery.csv"
    mystery.write_text("a,b\n1,2\n")
    with pytest.raises(ImportError_) as caught:
        await runtime.importer().import_files([mystery])
    assert "customer_id,name,email" in caught.value.fix


async def test_json_lines_are_imported_too(runtime: Runtime, tmp_path: Path) -> None:
    people = tmp_path / "customers.jsonl"
    people.write_text('{"customer_id": "J-1", "name": "Jo Park", "email": "jo@example.com", "tier": "Summit"}\n'
                      '{"customer_id": "J-2", "name": "Lee Chan", "email": "not-an-email"}\n')
    (report,) = await runtime.importer().import_files([people], skip_bad=True)
    assert report.written == 1 and [p.line for p in report.problems] == [2]
    jo = await runtime.customers.find("jo@example.com")
    assert jo.attributes == {"tier": "Summit"}


async def test_with_skip_bad_an_order_with_a_bad_line_is_skipped_whole(runtime: Runtime, tmp_path: Path) -> None:
    people = tmp_path / "c.csv"
    people.write_text("customer_id,name,email\nC-1,A B,a@example.com\n")
    orders = tmp_path / "o.csv"
    orders.write_text("order_id,customer_id,sku,quantity,unit_price,status,ordered_at\n"
                      "7,C-1,A,1,10,shipped,2026-01-01\n7,C-1,B,lots,10,shipped,2026-01-01\n"
                      "8,C-1,A,1,10,shipped,2026-01-01\n")
    _, report = await runtime.importer().import_files([people, orders], skip_bad=True)
    assert report.written == 1 and [p.line for p in report.problems] == [3]
    async with runtime.database.session() as session:
        assert (await session.exec(select(Order.order_id))).all() == ["8"]


async def test_lines_of_one_order_must_agree(runtime: Runtime, tmp_path: Path) -> None:
    people = tmp_path / "c.csv"
    people.write_text("customer_id,name,email\nC-1,A B,a@example.com\n")
    orders = tmp_path / "o.csv"
    orders.write_text("order_id,customer_id,sku,quantity,unit_price,status,ordered_at\n"
                      "9,C-1,A,1,1,shipped,2026-01-01\n9,C-1,B,1,1,delivered,2026-01-01\n")
    reports = await runtime.importer().import_files([orders, people])
    assert [r.kind for r in reports] == ["customers", "orders"]  # customers first, whatever the order given
    assert "order 9 has a different status than on line 2" in str(reports[1].problems[0])


def test_import_command_exits_nonzero_on_a_bad_file(data_dir: Path, tmp_path: Path) -> None:
    bad = tmp_path / "customers.csv"
    bad.write_text("customer_id,name,email\nC-1,,x@example.com\n")
    result = subprocess.run([sys.executable, "-m", "bot", "import", str(bad), "--data-dir", str(data_dir)],
                            capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert result.returncode == 1
    assert f"{bad}:2: name is empty" in result.stderr
    assert "nothing of this file was imported" in result.stderr


async def test_import_upserts_on_sqlite_and_postgresql(database_url: str, tmp_path: Path) -> None:
    from bot.embedder import load_embedder
    from bot.store import migrations
    from bot.store.database import Database
    from bot.store.memory import CustomerMemory
    from bot.store.vectors import VectorStore
    from bot.customers.importer import Importer

    database = Database(database_url, tmp_path)
    await migrations.upgrade(database)
    embedder = load_embedder()
    memory = CustomerMemory(await VectorStore.open("", tmp_path, embedder.name, embedder.dimension).collection("memories"))
    importer = Importer(database, memory, embedder)
    files = [ROOT / "samples/customers.csv", ROOT / "samples/orders.csv"]
    try:
        for _ in range(2):
            reports = await importer.import_files(files)
            assert [r.written for r in reports] == [36, 90]
        async with database.session() as session:
            assert (await session.exec(select(func.count()).select_from(OrderLine))).one() == 129
            order = (await session.exec(select(Order).where(Order.order_id == "1042"))).one()
        assert order.status == "shipped" and order.total == 89.0 and order.tracking == "NW20261124042"
    finally:
        await memory.close()
        await database.close()
