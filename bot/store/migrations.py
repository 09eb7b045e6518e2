"""Schema migrations through Alembic, run on the application's own async engine."""

from __future__ import annotations

from alembic import command
from alembic.config import Config as AlembicConfig
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from bot.errors import StoreError
from bot.store.database import MIGRATIONS, Database


def _alembic_config() -> AlembicConfig:
    config = AlembicConfig()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


def head_revision() -> str | None:
    return ScriptDirectory.from_config(_alembic_config()).get_current_head()


async def current_revision(database: Database) -> str | None:
    async with database.engine.connect() as connection:
        return await connection.run_sync(lambda c: MigrationContext.configure(c).get_current_revision())


async def upgrade(database: Database, revision: str = "head") -> None:
    config = _alembic_config()

    def run(connection: object) -> None:
        config.attributes["connection"] = connection
        command.upgrade(config, revision)

    async with database.engine.begin() as connection:
        await connection.run_sync(run)


async def ensure_schema(database: Database, auto_upgrade: bool) -> None:
    """Bring an embedded SQLite up to date by itself; refuse to run on an outdated server database."""
    if await current_revision(database) == head_revision():
        return
    if auto_upgrade:
        await upgrade(database)
        return
    raise StoreError(
        f"the database at {database.safe_url} is not at the current schema ({head_revision()})",
        fix="run `rapport db upgrade` (on Heroku the release phase does this)",
    )
