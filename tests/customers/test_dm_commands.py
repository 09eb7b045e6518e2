"""Account commands in a direct message: the bare words work, sentences stay sentences; replies are private."""

from __future__ import annotations

import json
import re

from bot.runtime import Runtime
from bot.types import ConversationKey, Inbound

_n = iter(range(1, 10_000))


def slack(text: str, channel: str = "D0DM", user: str = "U-dm") -> Inbound:
    ts = f"17000000{next(_n):02d}.000100"  # every top-level DM message is its own thread
    return Inbound(platform="slack", conversation=ConversationKey("slack", "T1", channel, ts), user_id=user,
                   display_name="Dee", text=text, message_id=f"{channel}:{ts}")


def telegram(text: str, chat: str, user: str = "4242") -> Inbound:
    return Inbound(platform="telegram", conversation=ConversationKey("telegram", "BOT1", chat), user_id=user,
                   display_name="Dee", text=text, message_id=f"{chat}:{next(_n)}")


async def test_bare_words_in_a_dm_are_the_commands(sampled: Runtime) -> None:
    handle = sampled.engine.handle
    code = await handle(slack("link"))
    assert code is not None and re.search(r"/link [A-Z0-9]{4}-[A-Z0-9]{4}", code.text)
    assert code.private and code.recipient == "U-dm"
    export = await handle(slack("export"))
    assert export is not None and len(export.files) == 1 and export.private
    assert json.loads(export.files[0].content)["identity"][0]["platform_user_id"] == "U-dm"
    ask = await handle(telegram("forget", chat="4242"))  # a Telegram private chat's id is the user's
    assert ask is not None and "permanently deletes" in ask.text and ask.private and ask.recipient == "4242"


async def test_outside_a_dm_or_inside_a_sentence_the_words_are_just_words(sampled: Runtime) -> None:
    handle = sampled.engine.handle
    in_channel = await handle(slack("export", channel="C0SHARED"))
    assert in_channel is not None and in_channel.files == () and not in_channel.private
    in_group = await handle(telegram("forget", chat="-100777"))
    assert in_group is not None and "permanently deletes" not in in_group.text
    sentence = await handle(slack("I forget my password"))
    assert sentence is not None and "permanently deletes" not in sentence.text and not sentence.private


async def test_forget_confirmed_in_another_dm_thread_deletes(sampled: Runtime) -> None:
    handle = sampled.engine.handle
    await handle(slack("my name is Dee and I love herons", user="U-del"))
    customer = await sampled.customers.identify(slack("x", user="U-del"))
    ask = await handle(slack("/forget", user="U-del"))
    assert ask is not None and "permanently deletes" in ask.text
    done = await handle(slack("forget confirm", user="U-del"))  # another thread, and the bare words
    assert done is not None and "has been deleted" in done.text and done.private
    assert await sampled.customers.get(customer.id or 0) is None


async def test_the_confirmation_button_words_confirm_too(sampled: Runtime) -> None:
    handle = sampled.engine.handle
    await handle(slack("/forget", user="U-btn", channel="C0SHARED"))
    customer = await sampled.customers.identify(slack("x", user="U-btn"))
    done = await handle(slack("Yes, delete everything", user="U-btn", channel="C0SHARED"))
    assert done is not None and "has been deleted" in done.text
    assert await sampled.customers.get(customer.id or 0) is None


async def test_vectors_hold_no_text_and_no_platform_id(sampled: Runtime) -> None:
    handle = sampled.engine.handle
    await handle(slack("the heron statue arrived chipped", user="U-vec"))
    await handle(slack("could you gift wrap the heron statue", user="U-vec"))
    customer = await sampled.customers.identify(slack("x", user="U-vec"))
    assert customer.id is not None
    await sampled.memory.flush()
    shard = sampled.memory.shard(customer.id)
    stored = await shard.documents({"customer_id": customer.id})
    assert len(stored) == 2
    for vector_id, document, meta in stored:
        assert document == "" and re.fullmatch(r"turn-\d+", vector_id)
        assert set(meta) == {"customer_id", "at", "mentions", "conversation"}
        assert re.fullmatch(r"[0-9a-f]{32}", meta["conversation"])
    # ...and the memories still come back with their words, read from SQL.
    probe = sampled.embedder.embed(["heron statue chipped"])[0]
    assert (await sampled.memory.recall(customer.id, probe, 1))[0].text == "the heron statue arrived chipped"
    exported = await sampled.privacy.export(customer.id)
    assert sorted(m["text"] for m in exported["memories"]) == [
        "could you gift wrap the heron statue", "the heron statue arrived chipped"]
