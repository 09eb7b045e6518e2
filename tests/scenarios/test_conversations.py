"""Every scenario in tests/conversations/ through the real engine; the share of checks that pass must
reach RAPPORT_SCENARIO_MIN_PASS (default MIN_PASS). Run with -s to see the report."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from rich.console import Console

from bot.cli.scenarios import scenario_files
from bot.config import load_config
from bot.scenarios import ScenarioRunner, load_file
from bot.scenarios.report import print_scenario, print_summary

ROOT = Path(__file__).resolve().parents[2]
CONVERSATIONS = ROOT / "tests" / "conversations"
# Raised to 0.95 when the conversation redesign of issue 10 lands; until then the run reports, not gates.
MIN_PASS = 0.95  # issue 10: at least 95% of the checks; today 336 of 338 pass
MIN_SCENARIOS = 80


@pytest.mark.slow  # ~1 minute on the 2-core CI machine, knowledge ingested once per session
async def test_conversation_scenarios(ingested_data: Path, tmp_path: Path) -> None:
    files = [load_file(path) for path in scenario_files([CONVERSATIONS])]
    assert sum(len(f.content.scenarios) for f in files) >= MIN_SCENARIOS
    console = Console(soft_wrap=True, highlight=False)
    runner = ScenarioRunner(load_config(ROOT / "config.yaml", env={}), tmp_path / "run", seed=ingested_data,
                            progress=lambda result: print_scenario(console, result))
    run = await runner.run(files)
    print_summary(console, run)
    minimum = float(os.environ.get("RAPPORT_SCENARIO_MIN_PASS", MIN_PASS))
    passed, total = run.check_counts
    assert not run.knowledge_problems
    assert run.pass_rate >= minimum, f"{passed}/{total} checks passed ({run.pass_rate:.1%}), below {minimum:.0%}"
