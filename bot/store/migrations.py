"""Schema migrations through Alembic, run on the application's own async engine.

Every start-up asks whether the database is at the newest revision; that question is answered without
Alembic (~0.5 s of imports, and it imports every migration file): the stored revision is read from the
``alembic_version`` table and the newest one from the ``revision`` / ``down_revision`` lines of the
files in ``versions/``. Alembic loads only when a migration runs, or when either answer is one that
only Alembic can judge (several heads, several stored revisions) — it then raises its own error.
"""

from __future__ import annotations

import ast
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import inspect, text

from bot.errors import StoreError
from bot.store.database import MIGRATIONS, Database

if TYPE_CHECKING:
    from alembic.config import Config as AlembicConfig

VERSIONS = MIGRATIONS / "versions"
VERSION_TABLE = "alembic_version"  # Alembic's default; env.py does not rename it


def _alembic_config() -> AlembicConfig:
    from alembic.config import Config as AlembicConfig

    config = AlembicConfig()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


def _declared(path: Path) -> tuple[str | None, tuple[str, ...]]:
    """(revision, the revisions it follows) as written in one migration file, read without running it."""
    values: dict[str, Any] = {}
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        target = node.targets[0] if isinstance(node, ast.Assign) and len(node.targets) == 1 else \
            node.target if isinstance(node, ast.AnnAssign) else None
        if isinstance(target, ast.Name) and target.id in ("revision", "down_revision") and node.value is not None:
            values[target.id] = ast.literal_eval(node.value)
    follows = values.get("down_revision")
    return values.get("revision"), (() if follows is None else (follows,) if isinstance(follows, str) else tuple(follows))


def head_revision() -> str | None:
    """The newest revision in ``versions/``, the one no other file follows."""
    graph = dict(_declared(path) for path in sorted(VERSIONS.glob("*.py")))
    graph.pop(None, None)  # a file that declares no revision is not a migration
    followed = {parent for parents in graph.values() for parent in parents}
    heads = [revision for revision in graph if revision not in followed]
    if len(heads) == 1:
        return heads[0]
    from alembic.script import ScriptDirectory  # no file, or branches: Alembic's answer, or its error

    return ScriptDirectory.from_config(_alembic_config()).get_current_head()


def _stored_revision(connection: Any) -> str | None:
    if not inspect(connection).has_table(VERSION_TABLE):
        return None
    stored = connection.execute(text(f"SELECT version_num FROM {VERSION_TABLE}")).scalars().all()
    if len(stored) > 1:  # a branched history: Alembic says which, and refuses
        from alembic.runtime.migration import MigrationContext

        return MigrationContext.configure(connection).get_current_revision()
    return stored[0] if stored else None


async def current_revision(database: Database) -> str | None:
    """The revision the database is at (None: an empty database)."""
    async with database.engine.connect() as connection:
        return await connection.run_sync(_stored_revision)


async def upgrade(database: Database, revision: str = "head") -> None:
    from alembic import command

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
