"""The turn-latency benchmark runs and reports what it promises (a small, bounded run)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_turn_latency_benchmark_reports_its_figures(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "bench/turn_latency.py", "--customers", "40", "--memories", "400", "--turns", "10",
         "--data-dir", str(tmp_path)],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stderr
    figures = json.loads(result.stdout)
    assert figures["customers"] == 40 and figures["memories"] == 400 and figures["turns"] == 10
    assert figures["failed_turns"] == 0, figures["failures"]
    assert 0 < figures["p50_ms"] <= figures["p99_ms"]
    assert figures["turns_per_second"] > 0 and figures["peak_rss_mb"] > 0


def test_turn_latency_benchmark_with_concurrent_conversations(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "bench/turn_latency.py", "--customers", "40", "--memories", "400", "--turns", "24",
         "--concurrency", "12", "--data-dir", str(tmp_path)],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stderr
    figures = json.loads(result.stdout)
    assert figures["turns"] == 24 and figures["concurrency"] == 12
    assert figures["failed_turns"] == 0, figures["failures"]  # a failed turn is counted, not raised
    assert 0 < figures["p50_ms"] <= figures["p99_ms"] and figures["turns_per_second"] > 0
    # Twelve conversations in flight share model calls: fewer calls than the turns' messages.
    assert 0 < figures["embedding_model_calls"] < 24
    assert 0 < figures["peak_rss_during_turns_mb"] <= figures["peak_rss_mb"]
