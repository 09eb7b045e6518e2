"""The README's two set-up commands stay true, and CI runs the second."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def setup_commands() -> list[str]:
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Set up", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```bash\n(.+?)\n```", section)


def test_readme_has_exactly_two_setup_commands_chat_then_tests() -> None:
    chat, tests = setup_commands()
    assert "rapport chat" in chat and "pip install -e ." in chat and "rapport import samples/*.csv" in chat
    assert tests.endswith("pytest") and "'.[test]'" in tests


def test_ci_runs_the_readme_test_command() -> None:
    ci = (ROOT / ".ci/run").read_text()
    _, tests = setup_commands()
    pattern = re.search(r"grep -m1 -E '(.+?)' README.md", ci)
    assert pattern is not None
    assert re.search(pattern.group(1), tests)
