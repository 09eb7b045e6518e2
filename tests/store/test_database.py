"""The SQL store on SQLite and, where reachable, on PostgreSQL: migrations, identities, the inbox."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from bot.errors import StoreError
from bot.store import migrations
from bot.store.conversations import ConversationLog
from bot.store.customers import CustomerDirectory
from bot.store.database import Database, normalise_url
from bot.store.inbox import Inbox
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
