"""Identities are linked only by a verified one-time code, never by a name or a claim."""

from __future__ import annotations

import asyncio
import logging
import random
import re

import pytest
from sqlalchemy import event
from sqlmodel import select

from bot.customers.linking import MAX_MISSES, Presenter, account_digest
from bot.runtime import Runtime
from bot.store.tables import Identity, IdentityLink, LinkAttempt
from bot.types import ConversationKey, Inbound, Reply


def message(platform: str, user: str, text: str, n: int, name: str = "Ana Silva") -> Inbound:
    return Inbound(platform=platform, conversation=ConversationKey(platform, "W", f"D-{user}"), user_id=user,
                   display_name=name, text=text, message_id=f"{platform}-{user}-{n}")


async def test_code_from_one_platform_links_the_account_on_another(sampled: Runtime) -> None:
    ana = await sampled.customers.find("C-1001")
    await sampled.customers.attach(ana, "slack", "W", "U-slack-ana")
    issued = await sampled.engine.handle(message("slack", "U-slack-ana", "/link", 1))
    assert issued is not None
    code = re.search(r"/link ([A-Z0-9]{4}-[A-Z0-9]{4})", issued.text).group(1)  # type: ignore[union-attr]

    # Same display name on Telegram: still a stranger until the code is entered.
    stranger = await sampled.engine.handle(message("telegram", "777", "where is my order?", 1))
    assert stranger is not None and "1042" not in stranger.text

    linked = await sampled.engine.handle(message("telegram", "777", f"/start {code}", 2))
    assert linked is not None and "your accounts are linked" in linked.text
    after = await sampled.engine.handle(message("telegram", "777", "where is my order?", 3))
    assert after is not None and "1042" in after.text

    async with sampled.database.session() as session:
        identities = (await session.exec(select(Identity).where(Identity.customer_id == ana.id))).all()
        audit = (await session.exec(select(IdentityLink).where(IdentityLink.customer_id == ana.id))).all()
    assert {(i.platform, i.platform_user_id) for i in identities} >= {("slack", "U-slack-ana"), ("telegram", "777")}
    assert [(a.platform, a.method) for a in audit] == [("telegram", "one-time-code")]

    # What the Telegram account said before the link is now this customer's memory, in her shard.
    await sampled.memory.flush()
    probe = sampled.embedder.embed(["where is my order?"])[0]
    assert "where is my order?" in [m.text for m in await sampled.memory.recall(ana.id, probe, 5)]

    reused = await sampled.engine.handle(message("discord", "999", f"/link {code}", 1))
    assert reused is not None and "not valid or was already used" in reused.text


async def test_a_wrong_code_links_nothing(sampled: Runtime) -> None:
    reply = await sampled.engine.handle(message("discord", "42", "/link ABCD-EFGH", 1))
    assert reply is not None and "not valid" in reply.text
    async with sampled.database.session() as session:
        assert (await session.exec(select(IdentityLink))).all() == []


async def test_link_codes_never_reach_memory_or_the_turn_log(sampled: Runtime) -> None:
    issued = await sampled.engine.handle(message("slack", "U-x", "/link", 1, name="X"))
    assert issued is not None
    code = re.search(r"/link ([A-Z0-9-]{9})", issued.text).group(1)  # type: ignore[union-attr]
    await sampled.memory.flush()
    for name in await sampled.vectors.names():
        for _, document, _ in await (await sampled.vectors.collection(name)).documents():
            assert code not in document


async def test_one_code_entered_twice_at_once_links_only_one_account(sampled: Runtime) -> None:
    import asyncio

    ana = await sampled.customers.find("C-1001")
    code = await sampled.engine.act._linker.issue(ana.id, "slack", "W")  # noqa: SLF001
    results = await asyncio.gather(
        sampled.engine.handle(message("telegram", "501", f"/link {code}", 1)),
        sampled.engine.handle(message("discord", "502", f"/link {code}", 1)),
    )
    texts = [r.text for r in results if r is not None]
    assert sum("your accounts are linked" in t for t in texts) == 1
    assert sum("not valid or was already used" in t for t in texts) == 1
    async with sampled.database.session() as session:
        audit = (await session.exec(select(IdentityLink).where(IdentityLink.customer_id == ana.id))).all()
    assert len(audit) == 1


# --- item 1: a code read by someone else is no key to the account ----------------------------------

def slack(user: str, text: str, channel: str, ts: str, team: str = "T1", external: bool = False) -> Inbound:
    """A Slack-shaped message, keyed as adapters/slack.py keys it (home team, channel, thread ts)."""
    return Inbound(platform="slack", conversation=ConversationKey("slack", team, channel, ts), user_id=user,
                   display_name=user, text=text, message_id=f"{channel}:{ts}", external=external,
                   external_org="T-OTHER" if external else "")


def telegram(user: str, text: str, n: int) -> Inbound:
    """A Telegram private chat: its chat id is the user's id; the workspace is the bot's id."""
    return Inbound(platform="telegram", conversation=ConversationKey("telegram", "BOT1", user), user_id=user,
                   display_name=user, text=text, message_id=f"{user}:{n}")


def code_in(reply: Reply | None) -> str:
    assert reply is not None
    found = re.search(r"/link ([A-Z0-9]{4}-[A-Z0-9]{4})", reply.text)
    assert found, reply.text
    return found.group(1)


async def test_a_code_read_in_a_shared_slack_channel_is_refused_there_and_burnt(sampled: Runtime) -> None:
    ana = await sampled.customers.find("C-1001")
    await sampled.customers.attach(ana, "slack", "T1", "U-ana")
    issued = await sampled.engine.handle(slack("U-ana", "/link", "C-shared", "100.1"))
    assert issued is not None and issued.private and issued.recipient == "U-ana"
    code = code_in(issued)

    # A Slack Connect member of the shared channel (his conversations carry the host workspace T1).
    stolen = await sampled.engine.handle(slack("U-mal", f"/link {code}", "C-shared", "100.2", external=True))
    assert stolen is not None and "only on another platform or workspace" in stolen.text
    assert stolen.private and stolen.recipient == "U-mal"
    mallory = await sampled.customers.identify(slack("U-mal", "x", "D-mal", "1", external=True))
    async with sampled.database.session() as session:
        identities = (await session.exec(select(Identity).where(Identity.customer_id == ana.id))).all()
        assert [(i.platform, i.platform_user_id) for i in identities] == [("slack", "U-ana")]
        assert (await session.exec(select(IdentityLink))).all() == []
    assert mallory.id != ana.id
    asked = await sampled.engine.handle(slack("U-mal", "where is my order?", "D-mal", "100.3", external=True))
    assert asked is not None and "1042" not in asked.text and "NW20261124042" not in asked.text

    # Seen where it was sent, the code is void: not even Ana's own Telegram account can use it now.
    late = await sampled.engine.handle(telegram("555", f"/start {code}", 1))
    assert late is not None and "not valid or was already used" in late.text

    fresh = code_in(await sampled.engine.handle(slack("U-ana", "/link", "D-ana", "101.1")))
    linked = await sampled.engine.handle(telegram("555", f"/link {fresh}", 2))
    assert linked is not None and "your accounts are linked" in linked.text
    async with sampled.database.session() as session:
        identities = (await session.exec(select(Identity).where(Identity.customer_id == ana.id))).all()
    assert {(i.platform, i.platform_user_id) for i in identities} == {("slack", "U-ana"), ("telegram", "555")}


async def test_the_issuer_typing_the_code_where_it_was_sent_is_told_where_to_use_it(sampled: Runtime) -> None:
    issued = await sampled.engine.handle(slack("U-zoe", "/link", "D-zoe", "1.1"))
    code = code_in(issued)
    again = await sampled.engine.handle(slack("U-zoe", f"/link {code}", "D-zoe", "1.2"))
    assert again is not None and "on your other account" in again.text
    linked = await sampled.engine.handle(telegram("556", f"/link {code}", 1))  # not burnt by its owner
    assert linked is not None and "your accounts are linked" in linked.text


def count_code_lookups(runtime: Runtime) -> list[str]:
    """Every SELECT that reads the link_code table, as it reaches the database."""
    seen: list[str] = []

    def watch(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
        if statement.lstrip().upper().startswith("SELECT") and re.search(r"\bFROM link_code\b(?!_)", statement):
            seen.append(statement)

    event.listen(runtime.database.engine.sync_engine, "before_cursor_execute", watch)
    return seen


async def test_five_hundred_wrong_guesses_are_cut_off_after_five(sampled: Runtime, caplog: pytest.LogCaptureFixture) -> None:
    guesser = await sampled.customers.identify(
        Inbound(platform="discord", conversation=ConversationKey("discord", "G1", "C1"), user_id="U-guess",
                text="hi", message_id="g0"))
    assert guesser.id is not None
    presenter = Presenter(guesser.id, "discord", "G1", "U-guess")
    rng = random.Random(7)
    guesses = ["".join(rng.choice("ABCDEFGHJKLMNPQRSTUVWXYZ23456789") for _ in range(8)) for _ in range(500)]
    linker = sampled.engine.act._linker  # noqa: SLF001
    lookups = count_code_lookups(sampled)
    with caplog.at_level(logging.INFO, logger="rapport.linking"):
        results = [await linker.redeem(guess, presenter) for guess in guesses]

    assert len(lookups) == MAX_MISSES
    assert all("not valid" in r.reason for r in results[:MAX_MISSES])
    assert all(r.reason == "too many attempts; try again in 15 minutes" for r in results[MAX_MISSES:])
    async with sampled.database.session() as session:
        rows = (await session.exec(select(LinkAttempt))).all()
    assert [(r.account, r.misses) for r in rows] == [(account_digest("discord", "G1", "U-guess"), MAX_MISSES)]
    assert rows[0].locked_until is not None

    lockouts = [r for r in caplog.records if r.getMessage() == "link code lock-out"]
    assert len(lockouts) == 1
    assert (lockouts[0].customer_id, lockouts[0].platform, lockouts[0].account) == (  # type: ignore[attr-defined]
        guesser.id, "discord", account_digest("discord", "G1", "U-guess"))
    logged = " ".join(f"{r.getMessage()} {r.__dict__}" for r in caplog.records)
    assert "U-guess" not in logged and not [g for g in guesses if g in logged]

    # Through the engine the answer says why, to the guesser only, and still looks nothing up.
    reply = await sampled.engine.handle(
        Inbound(platform="discord", conversation=ConversationKey("discord", "G1", "C1"), user_id="U-guess",
                text="/link ABCD-2345", message_id="g501"))
    assert reply is not None and "too many attempts; try again in 15 minutes" in reply.text
    assert reply.private and reply.recipient == "U-guess"
    assert len(lookups) == MAX_MISSES


async def test_guesses_at_once_from_one_account_still_get_five_look_ups(sampled: Runtime) -> None:
    guesser = await sampled.customers.identify(telegram("9001", "hi", 0))
    assert guesser.id is not None
    presenter = Presenter(guesser.id, "telegram", "BOT1", "9001")
    lookups = count_code_lookups(sampled)
    linker = sampled.engine.act._linker  # noqa: SLF001
    results = await asyncio.gather(*(linker.redeem(f"ZZZZ{i:04d}", presenter) for i in range(40)))
    assert len(lookups) <= MAX_MISSES
    assert sum(r.reason.startswith("too many attempts") for r in results) >= 40 - MAX_MISSES
