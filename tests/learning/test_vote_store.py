"""Votes in SQL and in each process's memory: one row per customer and section, and a second process
sees a vote (and a /forget) without restarting."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from bot.learning.answers import AnswerLearning
from bot.learning.scorer import LearningRules
from bot.store import migrations
from bot.store.database import Database
from bot.store.tables import Customer
from bot.store.votes import CastVote, VoteStore

SECTION = ("knowledge/pages/returns.md", 3)


class FixedEmbedder:
    name, dimension = "fixed", 4

    def embed(self, texts: list[str]) -> np.ndarray:
        return np.tile(np.array([1, 0, 0, 0], dtype=np.float32), (len(texts), 1))


@pytest.fixture
async def database(database_url: str, tmp_path: Path):  # type: ignore[no-untyped-def]
    db = Database(database_url, tmp_path)
    await migrations.upgrade(db)
    async with db.session() as session:
        session.add_all([Customer(id=i, name=f"c{i}") for i in (1, 2, 3)])
        await session.commit()
    yield db
    await db.close()


def cast(customer: int, polarity: int) -> CastVote:
    return CastVote(customer, SECTION, "Which items can't be returned?", polarity, np.array([1, 0, 0, 0], dtype=np.float32))


async def test_a_later_vote_replaces_the_earlier_one(database: Database) -> None:
    store = VoteStore(database)
    await store.cast(cast(1, -1))
    await store.cast(cast(1, -1))
    await store.cast(cast(1, +1))
    (vote,) = await store.all()
    assert vote.polarity == 1 and vote.section == SECTION
    assert np.allclose(vote.question, [1, 0, 0, 0])


async def test_another_process_sees_new_votes_and_forgotten_ones(database: Database) -> None:
    query = np.array([1, 0, 0, 0], dtype=np.float32)
    here = AnswerLearning(VoteStore(database), LearningRules(agree=3), FixedEmbedder(), refresh_every=0.0)  # type: ignore[arg-type]
    await here.load()
    there = VoteStore(database)  # what another process writes
    for customer in (1, 2, 3):
        await there.cast(cast(customer, -1))
    (score, _), = await here.rerank(query, [(0.8, SECTION)], customer_id=None)
    assert score < 0.8
    await there.forget(3)
    (score, _), = await here.rerank(query, [(0.8, SECTION)], customer_id=None)
    assert score == 0.8
