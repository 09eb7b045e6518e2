"""`rapport chat`: piped, as JSON, as a known customer, and with the network cut off."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from bot.config import Config
from bot.runtime import Runtime
from bot.store.tables import Customer

ROOT = Path(__file__).resolve().parent.parent


def chat(data_dir: Path, stdin: str, *args: str, prefix: tuple[str, ...] = ()) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*prefix, sys.executable, "-m", "bot", "chat", "--json", "--data-dir", str(data_dir), *args],
        input=stdin, capture_output=True, text=True, cwd=ROOT, timeout=180,
    )


def test_piped_chat_prints_one_json_object_per_reply(data_dir: Path) -> None:
    result = chat(data_dir, "hi\nwhat is your return policy?\n")
    assert result.returncode == 0, result.stderr
    replies = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(replies) == 2
    for reply in replies:
        assert {"text", "sources", "sentiment", "recommendations", "handoff"} <= reply.keys()
    assert replies[1]["sources"][0]["path"] == "knowledge/pages/returns.md"
    assert "30 days" in replies[1]["text"]


def test_first_chat_on_an_empty_data_directory_ingests_by_itself(tmp_path: Path) -> None:
    result = chat(tmp_path / "fresh", "how long does shipping take?\n")
    assert result.returncode == 0, result.stderr
    assert "First run: indexing knowledge/" in result.stderr
    assert json.loads(result.stdout)["sources"][0]["path"] == "knowledge/pages/shipping.md"


@pytest.mark.skipif(shutil.which("unshare") is None, reason="needs util-linux unshare to cut the network")
def test_chat_works_with_no_network_at_all(data_dir: Path) -> None:
    probe = subprocess.run(["unshare", "-n", "true"], capture_output=True)
    if probe.returncode != 0:
        pytest.skip(f"cannot create a network namespace here: {probe.stderr.decode().strip()}")
    result = chat(data_dir, "hi\nwhat is your return policy?\n", prefix=("unshare", "-n"))
    assert result.returncode == 0, result.stderr
    assert len(result.stdout.splitlines()) == 2


async def test_as_speaks_as_an_existing_customer(repo_config: Config, data_dir: Path) -> None:
    async with Runtime.open(repo_config, data_dir) as runtime:
        async with runtime.database.session() as session:
            session.add(Customer(external_id="C-1001", name="Ana Silva", email="ana@example.com"))
            await session.commit()
    result = chat(data_dir, "hello\n", "--as", "ana@example.com")
    assert result.returncode == 0, result.stderr
    assert "Ana" in json.loads(result.stdout)["text"]


def test_as_with_an_unknown_customer_says_what_is_wrong(data_dir: Path) -> None:
    result = chat(data_dir, "hello\n", "--as", "nobody@example.com")
    assert result.returncode == 1
    assert "no customer with external id or email 'nobody@example.com'" in result.stderr
    assert "rapport import" in result.stderr
