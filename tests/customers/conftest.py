from __future__ import annotations

from pathlib import Path

import pytest

from bot.runtime import Runtime

SAMPLES = Path(__file__).resolve().parents[2] / "samples"


@pytest.fixture
async def sampled(runtime: Runtime) -> Runtime:
    """The runtime with the shipped sample customers, orders, events and tickets imported."""
    reports = await runtime.import_files(sorted(SAMPLES.glob("*.csv")))
    assert all(not r.problems for r in reports), [str(p) for r in reports for p in r.problems]
    return runtime
