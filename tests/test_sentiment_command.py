"""`rapport sentiment`: one JSON object per input line, and support language scored the way customers mean it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_sentiment_command_reads_lines_and_prints_json() -> None:
    text = "My refund still hasn't arrived, terrible service\nI love the new lamp, thank you!\n"
    result = subprocess.run([sys.executable, "-m", "bot", "sentiment"], input=text, capture_output=True, text=True,
                            cwd=ROOT, timeout=120)
    assert result.returncode == 0, result.stderr
    negative, positive = (json.loads(line) for line in result.stdout.splitlines())
    assert negative["label"] == "negative" and negative["score"] < 0 and 0 <= negative["confidence"] <= 1
    assert positive["label"] == "positive" and positive["score"] > 0
