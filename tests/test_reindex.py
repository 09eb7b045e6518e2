"""`rapport ingest --reindex` rebuilds every vector, memories included, from the files and SQL."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from bot.config import Config
from bot.runtime import Runtime
from tests.recording import RecordingAdapter

ROOT = Path(__file__).resolve().parent.parent


async def test_reindex_rebuilds_knowledge_and_memories(repo_config: Config, data_dir: Path) -> None:
    async with Runtime.open(repo_config, data_dir) as runtime:
        adapter = RecordingAdapter(runtime.engine.handle)
        await adapter.say("the handle of my kettle wobbles", user="U-k", name="Kai")
        await adapter.say("/link", user="U-k", name="Kai")
        kai = await runtime.customers.identify(adapter.inbound("x", user="U-k", name="Kai"))

    result = subprocess.run([sys.executable, "-m", "bot", "ingest", "--reindex", "--data-dir", str(data_dir)],
                            capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert result.returncode == 0, result.stderr
    assert "memories: 1 rebuilt from the database" in result.stderr  # the /link command is not a memory

    async with Runtime.open(repo_config, data_dir) as runtime:
        probe = runtime.embedder.embed(["kettle handle"])[0]
        assert [m.text for m in await runtime.memory.recall(kai.id, probe, 3)] == ["the handle of my kettle wobbles"]
        assert (await runtime.knowledge.search(runtime.embedder.embed(["how long does shipping take?"])[0]))[0].section \
            == "How long does shipping take?"
