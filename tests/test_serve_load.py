"""bench/serve_load.py drives a real `rapport serve` / `rapport run` process through the fake Telegram
API and reports what it promises (a small run: two conversations, six messages)."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.mark.slow
@pytest.mark.parametrize("command", ["serve", "run"])
def test_serve_load_answers_every_message_and_reports_memory(command: str, data_dir: Path) -> None:
    result = subprocess.run(
        [sys.executable, "bench/serve_load.py", "--command", command, "--conversations", "2", "--messages", "6",
         "--port", str(free_port()), "--data-dir", str(data_dir)],
        cwd=ROOT, capture_output=True, text=True, timeout=600,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    figures = json.loads(result.stdout)
    assert figures["command"] == command and figures["answered"] == 6 and figures["unanswered"] == 0
    assert figures["telegram_api_calls"]["sendMessage"] == 6  # each message got its reply at the fake
    assert 0 < figures["idle"]["peak_rss_mb"] <= figures["after_load"]["peak_rss_mb"]
    assert 0 < figures["p50_ms"] <= figures["p99_ms"] and figures["startup_seconds"] > 0
