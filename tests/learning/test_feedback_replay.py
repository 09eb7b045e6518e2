"""A bounded BANKING77 replay (``rapport eval feedback`` at a small size): votes must beat retrieval alone."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from bot.config import Config
from bot.embedder import load_embedder
from bot.learning.answers import rules_from
from bot.learning.replay import replay_feedback
from bot.learning.scorer import LearningRules

BANKING77 = Path(__file__).resolve().parents[3] / "shared" / "data" / "banking77"


@pytest.mark.skipif(not (BANKING77 / "train.csv").is_file(), reason="BANKING77 is not in ../shared/data")
def test_held_out_accuracy_with_learning_beats_retrieval_alone() -> None:
    embedder = load_embedder(Config().models.embedder)
    result = replay_feedback(BANKING77, embedder.embed, rules_from(Config().learning), rounds=3,
                             voting_questions=600, held_out=300, seed=1)
    on, off = result["accuracy_by_round"], result["control_accuracy_by_round"]
    assert on[0] == off[0]  # before any vote the two are the same retrieval
    assert len(set(off)) == 1  # without learning nothing changes
    assert on[-1] > off[-1] + 0.01
    assert result["votes_by_round"][-1] > 0 and result["customers"] >= 600 // result["per_customer"]


def test_one_customer_voting_on_everything_does_not_move_the_held_out_answers(tmp_path: Path) -> None:
    # A tiny synthetic set: one customer asks every voting question; nobody else votes.
    rows = ["text,category"] + [f"question {i} about thing {i % 4},intent_{i % 4}" for i in range(40)]
    (tmp_path / "train.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    (tmp_path / "test.csv").write_text("\n".join(rows[:21]) + "\n", encoding="utf-8")
    rng = np.random.default_rng(0)

    def embed(texts: list[str]) -> np.ndarray:
        v = rng.normal(size=(len(texts), 16)).astype(np.float32)
        return v / np.linalg.norm(v, axis=1, keepdims=True)

    result = replay_feedback(tmp_path, embed, LearningRules(similarity=-1.0), rounds=1,
                             voting_questions=30, held_out=20, per_customer=1000, seed=0)
    assert result["customers"] == 1
    assert result["accuracy_by_round"] == result["control_accuracy_by_round"]
