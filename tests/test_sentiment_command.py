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


def test_a_missing_or_binary_file_is_one_clear_message_not_a_traceback(tmp_path: Path) -> None:
    binary = tmp_path / "scores.txt"
    binary.write_bytes(b"\xff\xfe\x00bad")
    for path, says in ((tmp_path / "nope.txt", "does not exist"), (binary, "not UTF-8 text")):
        result = subprocess.run([sys.executable, "-m", "bot", "sentiment", str(path)], capture_output=True,
                                text=True, cwd=ROOT, timeout=120)
        assert result.returncode != 0
        assert says in result.stdout + result.stderr and "Traceback" not in result.stdout + result.stderr


def test_a_reader_that_stops_early_is_no_error(tmp_path: Path) -> None:
    # `rapport sentiment FILE | head -1`: the pipe closes under the command, which said "cannot reach a
    # network service" (find_outage reads a BrokenPipeError as a dropped connection) and exited 1.
    lines = tmp_path / "lines.txt"
    lines.write_text("".join(f"the lamp is great, number {n}\n" for n in range(3000)))
    process = subprocess.Popen([sys.executable, "-m", "bot", "sentiment", str(lines)], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, cwd=ROOT)
    assert process.stdout is not None and process.stderr is not None
    assert json.loads(process.stdout.readline())["label"] == "positive"
    process.stdout.close()  # as head does after its line
    errors = process.stderr.read().decode()
    assert process.wait(timeout=120) == 0, errors
    assert "error" not in errors and "Traceback" not in errors
