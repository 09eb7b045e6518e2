"""Identities are linked only by a verified one-time code, never by a name or a claim."""

from __future__ import annotations

import re

from sqlmodel import select

from bot.runtime import Runtime
from bot.store.tables import Identity, IdentityLink
from bot.types import ConversationKey, Inbound


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
