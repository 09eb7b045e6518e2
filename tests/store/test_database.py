"""The SQL store on SQLite and, where reachable, on PostgreSQL: migrations, identities, the inbox."""

from __future__ import annotations

import asyncio
import logging
import socket
from pathlib import Path

import pytest
from sqlalchemy.exc import DBAPIError, IntegrityError

from bot.errors import ServiceUnavailable, StoreError
from bot.store import migrations
from bot.store.conversations import ConversationLog
from bot.store.customers import CustomerDirectory
from bot.store.database import Database, normalise_url
from bot.store.inbox import Inbox
from bot.store.tables import Customer
from bot.types import ConversationKey, Inbound


def test_heroku_postgres_url_becomes_asyncpg_with_ssl(tmp_path: Path) -> None:
    url, connect_args = normalise_url("postgres://u:p@db.example.com:5432/app?sslmode=require", tmp_path)
    assert url == "postgresql+asyncpg://u:p@db.example.com:5432/app"
    assert connect_args == {"ssl": "require"}


def test_empty_url_is_a_sqlite_file_in_the_data_directory(tmp_path: Path) -> None:
    url, _ = normalise_url("", tmp_path / "data")
    assert url == f"sqlite+aiosqlite:///{(tmp_path / 'data' / 'rapport.db').resolve()}"


def test_unknown_scheme_is_refused(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="mysql"):
        normalise_url("mysql://x/y", tmp_path)


def message(user: str, message_id: str, platform: str = "slack") -> Inbound:
    return Inbound(platform=platform, conversation=ConversationKey(platform, "T1", "C1"), user_id=user,
                   display_name=user.title(), text="hi", message_id=message_id)


@pytest.fixture
async def database(database_url: str, tmp_path: Path):  # type: ignore[no-untyped-def]
    db = Database(database_url, tmp_path)
    await migrations.upgrade(db)
    yield db
    await db.close()


async def test_migrations_reach_head_and_an_outdated_server_database_is_refused(database_url: str, tmp_path: Path) -> None:
    db = Database(database_url, tmp_path)
    try:
        with pytest.raises(StoreError, match="rapport db upgrade"):
            await migrations.ensure_schema(db, auto_upgrade=False)
        await migrations.ensure_schema(db, auto_upgrade=True)
        assert await migrations.current_revision(db) == migrations.head_revision()
    finally:
        await db.close()


async def test_one_customer_per_platform_account_even_under_concurrency(database: Database) -> None:
    directory = CustomerDirectory(database)
    customers = await asyncio.gather(*(directory.identify(message("alice", f"m{i}")) for i in range(8)))
    assert len({c.id for c in customers}) == 1
    bob = await directory.identify(message("bob", "m9"))
    assert bob.id != customers[0].id
    # The same user id on another platform is another account until verified linking says otherwise.
    other = await directory.identify(message("alice", "m10", platform="discord"))
    assert other.id != customers[0].id


async def test_inbox_claims_each_message_once(database: Database) -> None:
    inbox = Inbox(database)
    claims = await asyncio.gather(*(inbox.claim(message("alice", "evt-1")) for _ in range(6)))
    assert claims.count(True) == 1
    await ConversationLog(database).record(message("alice", "evt-1"), [], None, answered=True)
    assert await inbox.claim(message("alice", "evt-1")) is False
    assert await inbox.claim(message("alice", "evt-1", platform="telegram")) is True


async def test_released_claim_can_be_taken_again(database: Database) -> None:
    inbox = Inbox(database)
    assert await inbox.claim(message("alice", "evt-2"))
    await inbox.release(message("alice", "evt-2"))
    assert await inbox.claim(message("alice", "evt-2"))


# --- nothing a customer wrote reaches a log or an error message (issue 9, item 9) -------------------

SECRET_EMAIL = "ana.hidden@example.com"
SECRET_NAME = "Ana Confidential-Surname"


def _customer(name: str = SECRET_NAME) -> Customer:
    return Customer(external_id="C-DUP", name=name, email=SECRET_EMAIL)


def _everything_logged(records: list[logging.LogRecord]) -> str:
    """Every record as a handler would write it, tracebacks included."""
    formatter = logging.Formatter("%(name)s %(message)s")
    return "\n".join(formatter.format(record) for record in records)


async def _insert_and_log_failure(database: Database, customer: Customer) -> DBAPIError:
    """Insert ``customer``, expecting the database to refuse it; log the failure the way a caller would."""
    with pytest.raises(DBAPIError) as caught:
        async with database.session() as session:
            session.add(customer)
            await session.commit()
    logging.getLogger("rapport.test").error("insert failed", exc_info=caught.value)
    return caught.value


async def test_a_refused_insert_shows_no_parameter_in_logs_or_in_the_error(
    database: Database, caplog: pytest.LogCaptureFixture
) -> None:
    # Engine logging on: SQLAlchemy would then log every statement's parameters, unless hidden.
    caplog.set_level(logging.INFO, logger="sqlalchemy.engine")
    async with database.session() as session:
        session.add(_customer())
        await session.commit()
    caplog.clear()
    error = await _insert_and_log_failure(database, _customer())  # same external_id: unique constraint
    assert isinstance(error, IntegrityError)
    logged = _everything_logged(caplog.records)
    assert "INSERT INTO customer" in logged  # the statement is still there to debug with
    for value in (SECRET_EMAIL, SECRET_NAME, "C-DUP"):
        assert value not in str(error)
        assert value not in logged


async def test_a_nul_byte_refused_by_postgres_shows_no_parameter(
    database: Database, caplog: pytest.LogCaptureFixture
) -> None:
    if database.is_sqlite:
        pytest.skip("SQLite stores NUL bytes; only PostgreSQL refuses them")
    caplog.set_level(logging.INFO, logger="sqlalchemy.engine")
    error = await _insert_and_log_failure(database, _customer(name=f"{SECRET_NAME}\x00"))
    logged = _everything_logged(caplog.records)
    assert type(error).__name__ in logged
    for value in (SECRET_EMAIL, SECRET_NAME):
        assert value not in str(error)
        assert value not in logged


# --- an unreachable database is one clear error (issue 9, item 10b) ---------------------------------


async def test_an_unreachable_database_is_service_unavailable_naming_it_without_password(tmp_path: Path) -> None:
    closed_port = free_port()
    db = Database(f"postgres://rapport:pa55-w0rd@127.0.0.1:{closed_port}/app", tmp_path)
    try:
        with pytest.raises(ServiceUnavailable) as caught:
            await db.ping()
    finally:
        await db.close()
    message = str(caught.value)
    assert f"127.0.0.1:{closed_port}/app" in message and "DATABASE_URL" in message
    assert "pa55-w0rd" not in message


async def test_ping_answers_on_a_reachable_database(database: Database) -> None:
    await database.ping()


def free_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]
