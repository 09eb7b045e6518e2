"""Votes on answers through the engine, on the real stores and models: a 👎 offers the next-best
answers and a person; three customers' 👎 change the answer a fourth gets; one customer alone never
changes anyone else's; a button click counts once; /forget deletes the votes."""

from __future__ import annotations


from sqlmodel import func, select

from bot.runtime import Runtime
from bot.store.tables import AnswerVote, InboxEntry
from bot.types import Feedback, FeedbackKind
from tests.recording import RecordingAdapter

# Answered, on the repository's knowledge, with the items that cannot be returned (the word "items"
# pulls it up) rather than how to start a return: the wrong section, which the votes below correct.
ASKED = "how do I return an item?"
PARAPHRASE = "how can I return an item?"
WRONG_SECTION = "Which items can't be returned?"
RIGHT_SECTION = "How do I start a return?"


def section(reply: object) -> str:
    sources = getattr(reply, "sources", ())
    return sources[0].section if sources else ""


async def votes(runtime: Runtime) -> int:
    async with runtime.database.session() as session:
        return (await session.exec(select(func.count()).select_from(AnswerVote))).one()


async def test_a_downvote_offers_the_next_best_answer_and_a_person(recorder: RecordingAdapter, runtime: Runtime) -> None:
    first = await recorder.say(ASKED, user="U1")
    assert section(first) == WRONG_SECTION
    reply = await recorder.say("that didn't help", user="U1")
    assert reply is not None and reply.sources
    assert section(reply) != WRONG_SECTION
    assert "Talk to a person" in [s.label for s in reply.suggestions]
    assert await votes(runtime) == 1
    assert section(reply) == RIGHT_SECTION
    # For this customer the rejected section is gone from that question at once.
    again = await recorder.say(PARAPHRASE, user="U1", channel="D1b")
    assert section(again) != WRONG_SECTION


async def test_three_customers_votes_change_a_fourths_answer_to_a_paraphrase(recorder: RecordingAdapter) -> None:
    assert section(await recorder.say(PARAPHRASE, user="U9", channel="D9")) == WRONG_SECTION
    for user in ("U1", "U2", "U3"):
        assert section(await recorder.say(ASKED, user=user, channel=f"D{user}")) == WRONG_SECTION
        assert section(await recorder.say("👎", user=user, channel=f"D{user}")) == RIGHT_SECTION  # the next best
        assert (await recorder.say("that answered it, thanks", user=user, channel=f"D{user}")) is not None
    assert section(await recorder.say(PARAPHRASE, user="U4", channel="D4")) == RIGHT_SECTION


async def test_two_customers_are_not_enough(recorder: RecordingAdapter) -> None:
    for user in ("U1", "U2"):
        await recorder.say(ASKED, user=user, channel=f"D{user}")
        await recorder.say("👎", user=user, channel=f"D{user}")
        await recorder.say("👍", user=user, channel=f"D{user}")
    assert section(await recorder.say(PARAPHRASE, user="U4", channel="D4")) == WRONG_SECTION


async def test_one_customers_votes_never_move_the_answer_for_anyone_else(recorder: RecordingAdapter, runtime: Runtime) -> None:
    baseline = await recorder.say(ASKED, user="U5", channel="D5")
    assert section(baseline) == WRONG_SECTION
    for round_ in range(4):  # the same customer, in new conversations, downvoting again and again
        channel = f"D1-{round_}"
        await recorder.say(ASKED, user="U1", channel=channel)
        await recorder.say("/unhelpful", user="U1", channel=channel)
        await recorder.say("not helpful", user="U1", channel=channel)
        await recorder.say("👍", user="U1", channel=channel)  # on the next-best answer it was offered
    async with runtime.database.session() as session:
        rows = (await session.exec(select(AnswerVote))).all()
    # Each round offered other sections (their own votes moved them), but one row per section, all theirs.
    assert len(rows) == len({(r.source, r.chunk) for r in rows}) and len({r.customer_id for r in rows}) == 1
    other = await recorder.say(ASKED, user="U6", channel="D6")
    assert section(other) == WRONG_SECTION


async def test_a_button_click_votes_once_and_queues_one_follow_up(recorder: RecordingAdapter, runtime: Runtime) -> None:
    asked = recorder.inbound(ASKED, user="U1", message_id="ask-1")
    await recorder.deliver(asked)
    click = Feedback(recorder.platform, asked.conversation, "U1", "ask-1", FeedbackKind.NOT_HELPFUL, feedback_id="click-1")
    await runtime.engine.feedback(click)
    await runtime.engine.feedback(click)  # the platform redelivers the click
    async with runtime.database.session() as session:
        queued = (await session.exec(select(InboxEntry).where(InboxEntry.conversation != ""))).all()
    follow_ups = [e for e in queued if e.status == "queued"]
    assert len(follow_ups) == 1
    replies = await runtime.engine.run_queue(asked.conversation)
    (reply,) = replies.values()
    assert await votes(runtime) == 1  # cast by the follow-up turn, once, however often the click came
    assert section(reply) != WRONG_SECTION and "Talk to a person" in [s.label for s in reply.suggestions]


async def test_forget_deletes_the_customers_votes(recorder: RecordingAdapter, runtime: Runtime) -> None:
    await recorder.say(ASKED, user="U1")
    await recorder.say("👎", user="U1")
    assert await votes(runtime) == 1
    await recorder.say("/forget", user="U1")
    await recorder.say("/forget confirm", user="U1")
    assert await votes(runtime) == 0
