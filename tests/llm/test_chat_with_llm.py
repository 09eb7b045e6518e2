"""The must-show of the LLM composer, as an admin would try it: `rapport chat --json` with
LLM_ENABLED=true and LLM_BASE_URL at a fake OpenAI-compatible server on loopback."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path

from tests.fakes.openai import FakeOpenAI, Recorded
from tests.llm.test_engine_llm import rewrite_the_draft

ROOT = Path(__file__).resolve().parents[2]
EMAIL, PHONE = "ana.private@example.org", "+1 415 867 5309"


async def rapport(*args: str, env: dict[str, str], stdin: bytes = b"") -> str:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", *args, cwd=ROOT, env=env, stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(process.communicate(stdin), 180)
    assert process.returncode == 0, err.decode()[-2000:]
    return out.decode()


async def test_chat_json_replies_with_the_models_text_grounded_and_redacted(data_dir: Path) -> None:
    async with FakeOpenAI() as fake:
        fake.default = rewrite_the_draft
        env = {**os.environ, "LLM_ENABLED": "true", "LLM_BASE_URL": fake.base_url, "OPENAI_API_KEY": "test-key",
               "DATABASE_URL": "", "REDIS_URL": ""}
        await rapport("import", *map(str, sorted((ROOT / "samples").glob("*.csv"))), "--data-dir", str(data_dir),
                      env=env)
        line = f"hi, it's me ({EMAIL}, {PHONE}) - where is my order?\n".encode()
        out = await rapport("chat", "--json", "--as", "ana.silva@example.com", "--data-dir", str(data_dir),
                            env=env, stdin=line)
    replies = [json.loads(x) for x in out.splitlines() if x.strip()]
    [reply] = [r for r in replies if r.get("type") == "reply"]
    assert reply["text"].startswith("Sure thing!") and "1042" in reply["text"]  # the model's words, grounded
    sent: list[Recorded] = fake.requests
    assert sent, "the model was never asked"
    prompt = json.dumps([r.body for r in sent])
    assert "1042" in prompt and "NW20261124042" in prompt  # her own order and its tracking number
    assert EMAIL not in prompt and PHONE not in prompt and "867 5309" not in prompt  # redacted before the API
