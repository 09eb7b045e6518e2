"""bench/prompt_tokens.py runs and reports what it promises: the brief stays flat as the conversation grows,
the buffer does not."""

from __future__ import annotations

import json
import subprocess
import sys


def figures(turns: int) -> dict[str, object]:
    out = subprocess.run([sys.executable, "bench/prompt_tokens.py", "--turns", str(turns), "--json"],
                         capture_output=True, text=True, check=True, timeout=120)
    return json.loads(out.stdout)


def test_the_brief_stays_within_budget_while_the_buffer_grows() -> None:
    at10, at20 = figures(10), figures(20)
    assert at20["buffer_tokens"] > at10["buffer_tokens"] + 700  # type: ignore[operator]
    assert abs(at20["brief_tokens"] - at10["brief_tokens"]) < 150  # type: ignore[operator]
    assert at20["ratio"] <= 0.30 and at20["tokenizer"] == "o200k_base"  # the target  # type: ignore[operator]
