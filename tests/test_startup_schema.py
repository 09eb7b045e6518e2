"""The start-up schema check reads what Alembic would, without importing it: the same head revision from the
migration files, the same stored revision from the database (empty, migrated, and each step between)."""

from __future__ import annotations

from pathlib import Path

import pytest

from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from bot.store import migrations
from bot.store.database import Database


def alembic_head() -> str | None:
    return ScriptDirectory.from_config(migrations._alembic_config()).get_current_head()


async def alembic_stored(database: Database) -> str | None:
    async with database.engine.connect() as connection:
        return await connection.run_sync(lambda c: MigrationContext.configure(c).get_current_revision())


def test_head_revision_is_alembics() -> None:
    assert migrations.head_revision() == alembic_head()


async def test_current_revision_is_alembics_at_every_step(tmp_path: Path) -> None:
    database = Database("", tmp_path)
    try:
        assert await migrations.current_revision(database) is None and await alembic_stored(database) is None
        script = ScriptDirectory.from_config(migrations._alembic_config())
        steps = [s.revision for s in reversed(list(script.walk_revisions()))]
        for step in steps:
            await migrations.upgrade(database, step)
            assert await migrations.current_revision(database) == await alembic_stored(database) == step
        assert steps[-1] == migrations.head_revision()
    finally:
        await database.close()


class AlembicsAnswer:
    """Stands in for Alembic's ScriptDirectory: says it was asked."""

    asked = 0

    @classmethod
    def from_config(cls, config: object) -> AlembicsAnswer:
        cls.asked += 1
        return cls()

    def get_current_head(self) -> str:
        return "alembic's answer"


def test_files_are_read_without_running_them_and_branches_are_left_to_alembic(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    versions = tmp_path / "versions"
    versions.mkdir()
    (versions / "a.py").write_text("import nothing_that_exists\nrevision = 'a'\ndown_revision = None\n")
    (versions / "b.py").write_text("revision: str = 'b'\ndown_revision: str | None = 'a'\n")
    (versions / "c.py").write_text("revision = 'c'\ndown_revision = ('b',)\n")
    monkeypatch.setattr(migrations, "VERSIONS", versions)
    monkeypatch.setattr("alembic.script.ScriptDirectory", AlembicsAnswer)
    assert migrations.head_revision() == "c" and AlembicsAnswer.asked == 0  # a → b → c
    (versions / "c.py").write_text("revision = 'c'\ndown_revision = 'a'\n")  # b and c both follow a: two heads
    assert migrations.head_revision() == "alembic's answer" and AlembicsAnswer.asked == 1
