"""/forget confirmed in a Slack DM leaves no byte of the customer in any file of the data directory.

A Slack DM gives every top-level message its own thread, so the request and the confirmation are two
conversations. After the runtime closes (files flushed), every file under the data dir — SQLite and its
-wal/-shm, Chroma's SQLite and index files, the intent router's cache — is scanned byte by byte for
the customer's canaries, in UTF-8 and in UTF-16-LE.
"""

from __future__ import annotations

import re
from pathlib import Path

from bot.config import Config
from bot.runtime import Runtime
from bot.types import ConversationKey, Inbound, Reply

SLACK_USER = "U0CANARY77"
SLACK_DM = "D0CANARY88"
TELEGRAM_USER = "8675309421"
NAME = "Quillon Brackenridge"
EMAIL = "quillon.brackenridge@canary.example"
SENTENCE = "the periwinkle walrus sleeps under my desk lamp"
TELEGRAM_SENTENCE = "tell the periwinkle walrus hello from the telegram side"
CANARIES = [SLACK_USER, SLACK_DM, TELEGRAM_USER, NAME, EMAIL, SENTENCE, TELEGRAM_SENTENCE, "periwinkle walrus"]


def slack_dm(text: str, ts: str) -> Inbound:
    """A top-level message in the bot's DM, keyed as adapters/slack.py keys it: its ts is its thread."""
    return Inbound(platform="slack", conversation=ConversationKey("slack", "T1", SLACK_DM, ts), user_id=SLACK_USER,
                   display_name=NAME, text=text, message_id=f"{SLACK_DM}:{ts}")


def telegram_chat(text: str, n: int) -> Inbound:
    return Inbound(platform="telegram", conversation=ConversationKey("telegram", "BOT1", TELEGRAM_USER),
                   user_id=TELEGRAM_USER, display_name="Q", text=text, message_id=f"{TELEGRAM_USER}:{n}")


def scan(folder: Path, needles: list[str]) -> list[str]:
    """(file, needle, encoding) for every canary found in any file under ``folder``."""
    found = []
    patterns = [(n, enc, n.encode(enc)) for n in needles for enc in ("utf-8", "utf-16-le")]
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        data = path.read_bytes()
        found += [f"{path.relative_to(folder)}: {n!r} ({enc})" for n, enc, raw in patterns if raw in data]
    return found


async def say(runtime: Runtime, inbound: Inbound) -> Reply:
    # The way the terminal answers: the turn runs now and its reply is marked delivered in the outbox.
    reply = await runtime.delivery.answer_inline(inbound)
    assert reply is not None
    return reply


async def test_forget_confirmed_in_a_slack_dm_leaves_no_byte_behind(repo_config: Config, data_dir: Path) -> None:
    async with Runtime.open(repo_config, data_dir) as runtime:
        await say(runtime, slack_dm(f"hi, my name is {NAME}", "1700000001.000100"))
        await say(runtime, slack_dm(f"my email is {EMAIL}", "1700000002.000100"))
        await say(runtime, slack_dm(SENTENCE, "1700000003.000100"))
        issued = await say(runtime, slack_dm("/link", "1700000004.000100"))
        code = re.search(r"/link ([A-Z0-9]{4}-[A-Z0-9]{4})", issued.text)
        assert code is not None and issued.private
        linked = await say(runtime, telegram_chat(f"/start {code.group(1)}", 1))
        assert "your accounts are linked" in linked.text
        await say(runtime, telegram_chat(TELEGRAM_SENTENCE, 2))
        customer = await runtime.customers.identify(slack_dm("x", "1"))
        assert customer.id is not None
        await runtime.memory.flush()
        assert len(await runtime.memory.shard(customer.id).metadatas({"customer_id": customer.id})) >= 3
        assert scan(data_dir, CANARIES)  # the scan does see the customer before the forget

        # Two top-level DM messages: two threads, two conversations.
        ask = await say(runtime, slack_dm("/forget", "1700000005.000100"))
        assert "permanently deletes" in ask.text and ask.private and ask.recipient == SLACK_USER
        done = await say(runtime, slack_dm("/forget confirm", "1700000006.000100"))
        assert "has been deleted" in done.text and done.private

    assert scan(data_dir, CANARIES) == []
