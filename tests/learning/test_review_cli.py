"""`rapport review list|approve|reject|export|gaps` on a data directory where an agent answered a handoff."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

from typer.testing import CliRunner

from bot.cli.app import app
from bot.config import Config
from bot.knowledge.pages import read_page
from bot.learning.review import TEAM_TITLE
from bot.runtime import Runtime
from tests.conftest import ROOT
from tests.learning.test_review import ANSWER, PARAPHRASE, QUESTION, customers_of, teach

EDITED = "Yes. Students get 15% off full-price items; sign in with your student email."


def _taught(config: Config, data_dir: Path, users: tuple[str, ...]) -> None:
    async def run() -> None:
        async with Runtime.open(config, data_dir) as runtime:
            for user in users:
                await teach(runtime, user=user, name=f"Customer {user}")
            await customers_of(runtime).say("what's the weather on Mars?", user="U-mars", name="Sam")

    asyncio.run(run())


def _ask(config: Config, data_dir: Path, text: str) -> str:
    async def run() -> str:
        async with Runtime.open(config, data_dir) as runtime:  # a fresh process: nothing cached from the CLI's
            reply = await customers_of(runtime).say(text, user="U-new", name="Newcomer")
            assert reply is not None
            return reply.text

    return asyncio.run(run())


def test_review_commands_end_to_end(repo_config: Config, data_dir: Path, tmp_path: Path) -> None:
    _taught(repo_config, data_dir, ("U1", "U2"))
    runner = CliRunner()
    where = ["--config", str(ROOT / "config.yaml"), "--data-dir", str(data_dir)]

    listed = runner.invoke(app, ["review", "list", "--json", *where])
    assert listed.exit_code == 0, listed.output
    items = json.loads(listed.stdout)
    assert [(i["status"], i["question"], i["answer"]) for i in items] == [("pending", QUESTION, ANSWER)] * 2
    first, second = sorted(i["id"] for i in items)

    # --edit opens $EDITOR on the question, a divider and the answer; this editor rewrites the answer.
    editor = tmp_path / "editor.py"
    editor.write_text("import sys, pathlib\np = pathlib.Path(sys.argv[1])\nq, d, _ = p.read_text().split('\\n', 2)\n"
                      f"p.write_text(q + '\\n' + d + '\\n' + {EDITED!r} + '\\n')\n")
    approved = runner.invoke(app, ["review", "approve", str(first), "--edit", *where],
                             env={"EDITOR": f"{sys.executable} {editor}", "VISUAL": ""})
    assert approved.exit_code == 0, approved.output
    assert f"Approved #{first}" in approved.stdout

    rejected = runner.invoke(app, ["review", "reject", str(second), *where])
    assert rejected.exit_code == 0 and f"Rejected #{second}" in rejected.stdout
    twice = runner.invoke(app, ["review", "approve", str(second), "--text", "anything", *where])
    assert twice.exit_code == 1 and "already rejected" in twice.output and "Traceback" not in twice.output
    unknown = runner.invoke(app, ["review", "reject", "999", *where])
    assert unknown.exit_code == 1 and "no review item #999" in unknown.output

    # Another process, another customer, other words: the agent's answer as the admin edited it.
    reply = _ask(repo_config, data_dir, PARAPHRASE)
    assert EDITED in reply and f"Source: {TEAM_TITLE}" in reply

    exported = runner.invoke(app, ["review", "export", "--out", str(tmp_path / "out"), *where])
    assert exported.exit_code == 0, exported.output
    chunks = read_page(tmp_path / "out" / "answered-by-our-team.md", "p.md", 1200, 100)
    assert [(c.section, c.text) for c in chunks] == [(QUESTION, EDITED)]  # the rejected one is not exported

    gaps = runner.invoke(app, ["review", "gaps", "--json", "--limit", "5", *where])
    assert gaps.exit_code == 0, gaps.output
    groups = json.loads(gaps.stdout)
    # Both customers' misses of the student question were a gap; the approved answer filled it.
    assert [(g["count"], g["examples"]) for g in groups] == [(1, ["what's the weather on Mars?"])]
