"""``rapport import``: customers, orders, browsing events and past tickets from CSV or JSON Lines.

Each file is recognised by its header and imported in one transaction: a bad row is
reported with its file, line and reason, and nothing of that file is written unless
``skip_bad`` is set. Rows are upserted by their ids, so importing the same file again
changes nothing.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.embedder import Embedder, embed_async
from bot.errors import RapportError
from bot.store.database import Database
from bot.store.memory import CustomerMemory
from bot.store.tables import Customer, Order, OrderLine, ProductEvent, Ticket

BATCH = 2000
Progress = Callable[[str, int, int], None]  # (file, rows done, rows in file)


@dataclass(frozen=True, slots=True)
class Kind:
    name: str
    required: tuple[str, ...]
    optional: tuple[str, ...]
    marker: frozenset[str]  # columns that identify the kind


KINDS = (
    Kind("customers", ("customer_id", "name", "email"), ("locale",), frozenset({"customer_id", "name", "email"})),
    Kind("orders", ("order_id", "customer_id", "sku", "quantity", "unit_price", "status", "ordered_at"),
         ("shipped_at", "tracking"), frozenset({"order_id", "sku"})),
    Kind("events", ("customer_id", "type", "sku_or_url", "at"), (), frozenset({"type", "sku_or_url"})),
    Kind("tickets", ("ticket_id", "customer_id", "subject", "body", "resolution", "created_at"), (),
         frozenset({"ticket_id"})),
)
ORDER = {k.name: i for i, k in enumerate(KINDS)}


@dataclass(frozen=True, slots=True)
class RowProblem:
    file: str
    line: int
    reason: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.reason}"


@dataclass
class FileReport:
    file: str
    kind: str
    rows: int = 0
    written: int = 0
    problems: list[RowProblem] = field(default_factory=list)
    skipped_file: bool = False  # bad rows and no --skip-bad: nothing of this file was written


class ImportError_(RapportError):
    """A file cannot be imported at all (unreadable, unknown header)."""


def detect_kind(header: list[str], file: str) -> Kind:
    columns = set(header)
    for kind in sorted(KINDS, key=lambda k: -len(k.marker)):
        if kind.marker <= columns and not (kind.name == "customers" and columns & {"order_id", "ticket_id", "type"}):
            return kind
    raise ImportError_(
        f"{file}: cannot tell what this file holds from its header {header}",
        fix="use one of these headers: " + "; ".join(",".join(k.required) for k in KINDS),
    )


def read_rows(path: Path) -> tuple[list[str], Iterator[tuple[int, dict[str, Any]]]]:
    """The header and (line number, row) pairs of a CSV or JSON Lines file."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise ImportError_(f"{path}: no such file", fix="check the path") from None
    except UnicodeDecodeError:
        raise ImportError_(f"{path}: not UTF-8 text", fix="save or export the file as UTF-8") from None
    if path.suffix.lower() in {".jsonl", ".ndjson", ".json"}:
        lines = [(n, line) for n, line in enumerate(text.splitlines(), start=1) if line.strip()]
        if not lines:
            raise ImportError_(f"{path}: the file is empty", fix="add one JSON object per line")
        try:
            first = json.loads(lines[0][1])
        except json.JSONDecodeError as exc:
            raise ImportError_(f"{path}:{lines[0][0]}: not JSON ({exc.msg})", fix="write one JSON object per line") from None
        if not isinstance(first, dict):
            raise ImportError_(f"{path}:{lines[0][0]}: each line must be a JSON object", fix="write {\"key\": value} lines")

        def jsonl() -> Iterator[tuple[int, dict[str, Any]]]:
            for number, line in lines:
                try:
                    row = json.loads(line)
                except json.JSONDecodeError as exc:
                    yield number, {"__error__": f"not JSON ({exc.msg})"}
                    continue
                yield number, row if isinstance(row, dict) else {"__error__": "not a JSON object"}

        return list(first), jsonl()
    reader = csv.DictReader(text.splitlines())
    header = [h.strip() for h in reader.fieldnames or []]
    if not header:
        raise ImportError_(f"{path}: the file is empty", fix="add a header line and rows")
    reader.fieldnames = header
    return header, ((reader.line_num, row) for row in reader)


def parse_time(value: Any, column: str) -> datetime:
    text = str(value or "").strip()
    if not text:
        raise ValueError(f"{column} is empty")
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        try:
            parsed = datetime.combine(date.fromisoformat(text), datetime.min.time())
        except ValueError:
            raise ValueError(f"{column} {text!r} is not a date (use ISO 8601, e.g. 2026-11-24T09:30:00Z)") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _text(row: dict[str, Any], column: str, required: bool = True) -> str:
    value = row.get(column)
    text = "" if value is None else str(value).strip()
    if required and not text:
        raise ValueError(f"{column} is empty")
    return text


def _number(row: dict[str, Any], column: str, kind: type[int] | type[float]) -> Any:
    text = _text(row, column)
    try:
        value = kind(text)
    except ValueError:
        raise ValueError(f"{column} {text!r} is not a {'whole number' if kind is int else 'number'}") from None
    if value < 0:
        raise ValueError(f"{column} {text!r} is negative")
    return value


class Importer:
    def __init__(self, database: Database, memory: CustomerMemory, embedder: Embedder) -> None:
        self._db = database
        self._memory = memory
        self._embedder = embedder

    async def import_files(self, paths: list[Path], skip_bad: bool = False, progress: Progress | None = None) -> list[FileReport]:
        """Import files in dependency order (customers first). Each file is its own transaction."""
        planned = []
        for path in paths:
            header, rows = read_rows(path)
            kind = detect_kind(header, str(path))
            missing = [c for c in kind.required if c not in header]
            if missing:
                raise ImportError_(f"{path}:1: missing column(s) {missing} for {kind.name}",
                                   fix=f"the header must include {','.join(kind.required)}")
            planned.append((ORDER[kind.name], str(path), kind, header, rows))
        reports = []
        for _, file, kind, header, rows in sorted(planned, key=lambda p: p[0]):
            reports.append(await self._import_file(file, kind, header, list(rows), skip_bad, progress))
        return reports

    async def _import_file(
        self, file: str, kind: Kind, header: list[str], rows: list[tuple[int, dict[str, Any]]], skip_bad: bool,
        progress: Progress | None,
    ) -> FileReport:
        report = FileReport(file, kind.name, rows=len(rows))
        async with self._db.session() as session:
            customer_ids = await _customer_ids(session)
            parse = getattr(self, f"_parse_{kind.name}")
            good: list[Any] = []
            broken_orders: set[str] = set()  # orders with a bad line are skipped whole, never imported half
            for line, row in rows:
                if "__error__" in row:
                    report.problems.append(RowProblem(file, line, row["__error__"]))
                    continue
                missing = [c for c in kind.required if c not in row]
                if missing:
                    report.problems.append(RowProblem(file, line, f"missing column(s) {missing}"))
                    continue
                try:
                    good.append(parse(row, customer_ids, line, header))
                except ValueError as exc:
                    report.problems.append(RowProblem(file, line, str(exc)))
                    broken_orders.add(str(row.get("order_id") or "").strip())
            if kind.name == "orders":
                good = _group_orders(good, file, report, broken_orders)
            if report.problems and not skip_bad:
                report.skipped_file = True
                return report
            write = getattr(self, f"_write_{kind.name}")
            for start in range(0, len(good), BATCH):
                await write(session, good[start : start + BATCH])
                if progress:
                    progress(file, min(start + BATCH, len(good)), len(good))
            await session.commit()
            report.written = len(good)
        if kind.name == "tickets" and good:
            await self._remember_tickets(good)
        return report

    # -- customers ---------------------------------------------------------------------------

    def _parse_customers(self, row: dict[str, Any], _ids: dict[str, int], _line: int, header: list[str]) -> dict[str, Any]:
        email = _text(row, "email")
        if "@" not in email:
            raise ValueError(f"email {email!r} is not an email address")
        extra = {c: row[c] for c in header if c not in {"customer_id", "name", "email", "locale"} and row.get(c) not in (None, "")}
        now = datetime.now(UTC)
        return {"external_id": _text(row, "customer_id"), "name": _text(row, "name"), "email": email.lower(),
                "locale": _text(row, "locale", required=False), "attributes": extra,
                # Columns a new row needs; an update leaves them as they are.
                "organisation": "", "preferences": {}, "stage": "new", "created_at": now, "last_seen_at": now}

    async def _write_customers(self, session: AsyncSession, rows: list[dict[str, Any]]) -> None:
        await _upsert(session, Customer, rows, ["external_id"], ["name", "email", "locale", "attributes"])

    # -- orders --------------------------------------------------------------------------------

    def _parse_orders(self, row: dict[str, Any], ids: dict[str, int], line: int, _h: list[str]) -> dict[str, Any]:
        customer = _text(row, "customer_id")
        if customer not in ids:
            raise ValueError(f"unknown customer {customer!r} (import customers first)")
        shipped = _text(row, "shipped_at", required=False)
        return {
            "line": line,
            "order_id": _text(row, "order_id"),
            "customer_id": ids[customer],
            "sku": _text(row, "sku"),
            "quantity": _number(row, "quantity", int),
            "unit_price": _number(row, "unit_price", float),
            "status": _text(row, "status").lower(),
            "ordered_at": parse_time(row.get("ordered_at"), "ordered_at"),
            "shipped_at": parse_time(shipped, "shipped_at") if shipped else None,
            "tracking": _text(row, "tracking", required=False),
        }

    async def _write_orders(self, session: AsyncSession, orders: list[dict[str, Any]]) -> None:
        header_rows = [{k: v for k, v in o.items() if k != "lines"} for o in orders]
        await _upsert(session, Order, header_rows, ["order_id"],
                      ["customer_id", "status", "ordered_at", "shipped_at", "tracking", "total"])
        connection = await session.connection()
        keys = {
            order_id: pk
            for order_id, pk in (
                await connection.execute(select(Order.order_id, Order.id).where(Order.order_id.in_([o["order_id"] for o in orders])))  # type: ignore[attr-defined]
            ).all()
        }
        await connection.execute(delete(OrderLine).where(OrderLine.order_pk.in_(list(keys.values()))))  # type: ignore[attr-defined]
        lines = [dict(line, order_pk=keys[o["order_id"]]) for o in orders for line in o["lines"]]
        if lines:
            await connection.execute(OrderLine.__table__.insert(), lines)  # type: ignore[attr-defined]

    # -- events --------------------------------------------------------------------------------

    def _parse_events(self, row: dict[str, Any], ids: dict[str, int], _line: int, _h: list[str]) -> dict[str, Any]:
        customer = _text(row, "customer_id")
        if customer not in ids:
            raise ValueError(f"unknown customer {customer!r} (import customers first)")
        return {"customer_id": ids[customer], "type": _text(row, "type").lower(), "target": _text(row, "sku_or_url"),
                "at": parse_time(row.get("at"), "at")}

    async def _write_events(self, session: AsyncSession, rows: list[dict[str, Any]]) -> None:
        await _upsert(session, ProductEvent, rows, ["customer_id", "type", "target", "at"], [])

    # -- tickets -------------------------------------------------------------------------------

    def _parse_tickets(self, row: dict[str, Any], ids: dict[str, int], _line: int, _h: list[str]) -> dict[str, Any]:
        customer = _text(row, "customer_id")
        if customer not in ids:
            raise ValueError(f"unknown customer {customer!r} (import customers first)")
        return {"ticket_id": _text(row, "ticket_id"), "customer_id": ids[customer], "subject": _text(row, "subject"),
                "body": _text(row, "body"), "resolution": _text(row, "resolution", required=False),
                "created_at": parse_time(row.get("created_at"), "created_at")}

    async def _write_tickets(self, session: AsyncSession, rows: list[dict[str, Any]]) -> None:
        await _upsert(session, Ticket, rows, ["ticket_id"], ["customer_id", "subject", "body", "resolution", "created_at"])

    async def _remember_tickets(self, tickets: list[dict[str, Any]]) -> None:
        """Past tickets become semantic memories of their customer (idempotent: one id per ticket)."""
        texts = [f"{t['subject']}. {t['body']}" for t in tickets]
        vectors = await embed_async(self._embedder, texts)
        for ticket, text, vector in zip(tickets, texts, vectors, strict=True):
            self._memory.remember(ticket["customer_id"], f"ticket:{ticket['ticket_id']}", text, vector,
                                  f"ticket:{ticket['ticket_id']}", ticket["created_at"])
        await self._memory.flush()


def _group_orders(
    lines: list[dict[str, Any]], file: str, report: FileReport, broken: set[str]
) -> list[dict[str, Any]]:
    """Order rows are order lines; the rows of one order must agree on the order's own fields.
    An order with any bad line (``broken``, or a disagreeing one) is left out whole: a partial
    order would carry a wrong total and missing items."""
    orders: dict[str, dict[str, Any]] = {}
    for row in lines:
        line = {"sku": row["sku"], "quantity": row["quantity"], "unit_price": row["unit_price"]}
        order = orders.get(row["order_id"])
        if order is None:
            orders[row["order_id"]] = {
                "order_id": row["order_id"], "customer_id": row["customer_id"], "status": row["status"],
                "ordered_at": row["ordered_at"], "shipped_at": row["shipped_at"], "tracking": row["tracking"],
                "total": 0.0, "lines": [], "first_line": row["line"],
            }
            order = orders[row["order_id"]]
        else:
            for column in ("customer_id", "status", "ordered_at", "shipped_at", "tracking"):
                if order[column] != row[column]:
                    report.problems.append(RowProblem(
                        file, row["line"],
                        f"order {row['order_id']} has a different {column} than on line {order['first_line']}"))
                    broken.add(row["order_id"])
                    break
        order["lines"].append(line)
        order["total"] = round(order["total"] + row["quantity"] * row["unit_price"], 2)
    for order in orders.values():
        order.pop("first_line")
    return [order for order_id, order in orders.items() if order_id not in broken]


async def _customer_ids(session: AsyncSession) -> dict[str, int]:
    connection = await session.connection()
    rows = (await connection.execute(select(Customer.external_id, Customer.id).where(Customer.external_id.is_not(None)))).all()  # type: ignore[union-attr]
    return {external: pk for external, pk in rows}


async def _upsert(session: AsyncSession, table: Any, rows: list[dict[str, Any]], keys: list[str], updates: list[str]) -> None:
    """INSERT … ON CONFLICT (keys) DO UPDATE/NOTHING, on SQLite and PostgreSQL alike."""
    if not rows:
        return
    connection = await session.connection()
    dialect = postgresql if connection.dialect.name == "postgresql" else sqlite
    statement = dialect.insert(table.__table__).values(rows)
    if updates:
        statement = statement.on_conflict_do_update(
            index_elements=keys, set_={c: getattr(statement.excluded, c) for c in updates}
        )
    else:
        statement = statement.on_conflict_do_nothing(index_elements=keys)
    await connection.execute(statement)
