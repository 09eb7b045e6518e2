"""Admission to the database: many more concurrent units of work than the pool holds queue for a
place before they take a connection, instead of timing out inside SQLAlchemy's pool; a session
opened inside another on the same task does not queue behind itself. On SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import TimeoutError as PoolTimeout

from bot.store import database as database_module
from bot.store.database import POOL_SIZE, Database

HOLD = 0.05  # each unit of work keeps its connection this long, awaiting (as a turn awaits other work)


async def unit_of_work(db: Database, opened: list[int], peak: list[int]) -> int:
    async with db.session() as session:
        opened[0] += 1
        peak[0] = max(peak[0], opened[0], db.engine.pool.checkedout())  # type: ignore[attr-defined]
        value = (await (await session.connection()).execute(text("SELECT 1"))).scalar_one()
        await asyncio.sleep(HOLD)
        opened[0] -= 1
        return int(value)


async def test_sessions_beyond_the_pool_queue_instead_of_timing_out(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A pool wait far shorter than the queue: 60 units of 50 ms over 5 places need ~0.6 s.
    monkeypatch.setattr(database_module, "POOL_TIMEOUT_SECONDS", 0.2)
    db = Database(database_url, tmp_path)
    try:
        opened, peak = [0], [0]
        tasks = [asyncio.create_task(unit_of_work(db, opened, peak)) for _ in range(60)]
        await asyncio.sleep(HOLD / 2)
        assert db.waiting == 60 - POOL_SIZE  # the rest are queued, holding no connection
        assert await asyncio.gather(*tasks) == [1] * 60
        assert peak[0] == POOL_SIZE and db.waiting == 0
    finally:
        await db.close()


async def test_without_admission_the_same_load_times_out_in_the_pool(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The failure admission prevents, shown on the same engine: connections taken straight from
    the pool by 60 concurrent callers exhaust it (5 + 10) and the 16th waits past the timeout."""
    monkeypatch.setattr(database_module, "POOL_TIMEOUT_SECONDS", 0.2)
    db = Database(database_url, tmp_path)

    async def straight_from_the_pool() -> None:
        async with db.engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
            await asyncio.sleep(0.5)

    try:
        results = await asyncio.gather(*(straight_from_the_pool() for _ in range(60)), return_exceptions=True)
        assert any(isinstance(r, PoolTimeout) for r in results), results
    finally:
        await db.close()


async def test_a_session_inside_a_session_does_not_queue_behind_itself(database_url: str, tmp_path: Path) -> None:
    db = Database(database_url, tmp_path)
    try:
        async def nested() -> int:
            async with db.session() as outer:
                await (await outer.connection()).execute(text("SELECT 1"))
                async with db.session() as inner:  # all places may be taken by the other callers
                    return int((await (await inner.connection()).execute(text("SELECT 2"))).scalar_one())

        assert await asyncio.wait_for(asyncio.gather(*(nested() for _ in range(3 * POOL_SIZE))), 20) == \
            [2] * (3 * POOL_SIZE)
    finally:
        await db.close()


async def test_a_cancelled_waiter_gives_up_its_place_in_the_queue(database_url: str, tmp_path: Path) -> None:
    db = Database(database_url, tmp_path)
    try:
        opened, peak = [0], [0]
        holders = [asyncio.create_task(unit_of_work(db, opened, peak)) for _ in range(POOL_SIZE)]
        await asyncio.sleep(0)
        waiter = asyncio.create_task(unit_of_work(db, opened, peak))
        await asyncio.sleep(HOLD / 5)
        assert db.waiting == 1
        waiter.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiter
        await asyncio.gather(*holders)
        assert db.waiting == 0
        again = [asyncio.create_task(unit_of_work(db, opened, peak)) for _ in range(POOL_SIZE)]
        await asyncio.sleep(HOLD / 5)
        assert db.waiting == 0  # every place came back: POOL_SIZE callers all got in at once
        assert await asyncio.gather(*again) == [1] * POOL_SIZE
    finally:
        await db.close()
