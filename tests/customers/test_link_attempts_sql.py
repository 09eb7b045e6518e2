"""The lock-out counters and forget requests live in SQL and hold on SQLite and PostgreSQL alike."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path

from sqlmodel import select

from bot.customers.linking import MAX_MISSES, IdentityLinker, Presenter
from bot.customers.privacy import PrivacyDesk
from bot.store import migrations
from bot.store.database import Database
from bot.store.memory import CustomerMemory
from bot.store.tables import Customer, ForgottenCustomer, LinkAttempt, LinkCode
from bot.store.vectors import VectorStore


async def test_lock_out_and_forget_on_both_databases(database_url: str, tmp_path: Path) -> None:
    database = Database(database_url, tmp_path)
    await migrations.upgrade(database)
    vectors = VectorStore.open("", tmp_path, "none", 4)
    memory = CustomerMemory([await vectors.collection("memories-1-000")], database)
    try:
        async with database.session() as session:
            issuer, guesser = Customer(name="Issuer"), Customer(name="Guesser")
            session.add_all([issuer, guesser])
            await session.commit()
        assert issuer.id is not None and guesser.id is not None
        linker = IdentityLinker(database, vectors, memory)
        await linker.issue(issuer.id, "slack", "T1")
        presenter = Presenter(guesser.id, "discord", "G1", "U-g")
        results = await asyncio.gather(*(linker.redeem(f"QQQQ{i:04d}", presenter) for i in range(12)))
        assert sum("not valid" in r.reason for r in results) <= MAX_MISSES
        assert sum(r.reason.startswith("too many attempts") for r in results) >= 12 - MAX_MISSES
        async with database.session() as session:
            attempt = (await session.exec(select(LinkAttempt))).one()
        assert attempt.misses == MAX_MISSES and attempt.locked_until is not None

        privacy = PrivacyDesk(database, vectors, memory)
        await privacy.request_forget(issuer.id)
        await privacy.request_forget(issuer.id)  # asking twice keeps one request
        assert await privacy.forget_requested(issuer.id, timedelta(minutes=10))
        await privacy.forget(issuer.id)
        async with database.session() as session:
            assert await session.get(Customer, issuer.id) is None
            assert (await session.exec(select(LinkCode))).all() == []
            assert await session.get(ForgottenCustomer, issuer.id) is not None
        assert not await privacy.forget_requested(issuer.id, timedelta(minutes=10))
    finally:
        await database.close()

