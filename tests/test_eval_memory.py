"""`rapport eval memory`: the real write path and recall, dense vs hybrid, on a small support history."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from bot.errors import RapportError
from bot.nlp.memory_eval import parse_ks, read_dev_set
from bot.store.memory import fuse_scores, lexical_coverage

ROOT = Path(__file__).resolve().parent.parent
PRODUCTS = ["kettle", "desk lamp", "trail shoes", "dog bed", "rain jacket", "coffee grinder", "tent", "backpack"]


def support_history(path: Path) -> Path:
    """One customer who reported a problem with each of several orders, in near-identical words:
    only the order number tells the turns apart, which is what a sentence embedding blurs."""
    turns, questions = [], []
    for n, product in enumerate(PRODUCTS):
        number = 40_000 + 137 * n
        turns.append({"id": f"t{n}", "speaker": "customer", "at": f"2025-03-{n + 1:02d}T10:00:00Z",
                      "text": f"order {number} has not arrived yet, it was the {product}"})
        questions.append({"question": f"what is going on with {number}?", "evidence": [f"t{n}"]})
    row = {"id": "c1", "turns": turns, "questions": questions}
    path.write_text(json.dumps(row) + "\n", encoding="utf-8")
    return path


def test_eval_memory_prints_dense_and_hybrid_and_hybrid_finds_order_numbers(tmp_path: Path) -> None:
    dev = support_history(tmp_path / "dev.jsonl")
    result = subprocess.run([sys.executable, "-m", "bot", "eval", "memory", str(dev), "--k", "1,3", "--json"],
                            capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["questions"] == len(PRODUCTS) and report["turns"] == len(PRODUCTS)
    dense, hybrid = report["results"]["dense"], report["results"]["hybrid"]
    for row in (dense, hybrid):
        assert set(row) >= {"recall_any@1", "recall_all@1", "recall_any@3", "recall_all@3", "p50_ms"}
        assert row["recall_any@1"] <= row["recall_any@3"]
    # The number is the only difference between the turns: words find it, the embedding mostly does not.
    assert hybrid["recall_any@1"] >= 0.75
    assert hybrid["recall_any@1"] > dense["recall_any@1"]


def test_lexical_coverage_weighs_rare_words_and_fusion_breaks_ties_by_recency() -> None:
    texts = {"a": "my order 41234 is late", "b": "my order 55555 is late", "c": "the kettle is lovely"}
    coverage = lexical_coverage("where is order 55555", texts)
    assert set(coverage) == {"a", "b"} and coverage["b"] > coverage["a"]
    ranked = fuse_scores({"a": 0.5, "b": 0.5}, {}, {"a": "2025-01-01", "b": "2025-02-01"}, floor=0.5)
    assert ranked == ["b", "a"]  # equal scores: the newer memory first


def test_bad_dev_file_and_bad_k_name_the_problem(tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps({"id": "x", "turns": [], "questions": [{"question": "q", "evidence": ["t9"]}]}) + "\n")
    with pytest.raises(RapportError, match="bad.jsonl:1"):
        read_dev_set(bad)
    with pytest.raises(RapportError, match="--k"):
        parse_ks("1,five")
    assert parse_ks("10,1,5") == (10, 1, 5)
