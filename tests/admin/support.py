"""Sample data and a few chats held through the real engine, shared by the page and browser tests."""

from __future__ import annotations

from dataclasses import dataclass, field

from bot.cli.platforms import wire_handoffs
from bot.runtime import Runtime
from bot.types import Feedback, FeedbackKind, Reply
from tests.conftest import ROOT
from tests.recording import RecordingAdapter

SAMPLES = sorted((ROOT / "samples").glob("*.csv"))
ANA = "C-1001"  # a sample customer with orders and browsing (samples/README.md)


@dataclass
class Chats:
    slack: RecordingAdapter
    telegram: RecordingAdapter
    disliked_question: str = ""
    disliked_answer: str = ""
    unanswered: str = ""
    sent_to_customers: list[Reply] = field(default_factory=list)


async def load_samples_and_chat(runtime: Runtime) -> Chats:
    """``rapport import samples/*.csv``, then: Ana asks about shipping on Slack and gives the answer a 👎,
    someone asks something the bot cannot answer, a Telegram customer asks for a person (a handoff),
    and another greets, then comes back in a new conversation (a reopen)."""
    reports = await runtime.import_files(SAMPLES)
    assert all(not r.problems for r in reports), reports
    # As the composition root does: desk replies (the CSAT prompt after a resolve) go out through the outbox.
    wire_handoffs(runtime, runtime.config, [])
    slack = RecordingAdapter(runtime.engine.handle, platform="slack")
    telegram = RecordingAdapter(runtime.engine.handle, platform="telegram")
    runtime.delivery.add_sender("telegram", telegram.send)
    chats = Chats(slack, telegram)

    ana = await runtime.customers.find(ANA)
    await runtime.customers.attach(ana, "slack", "W1", "U-ana")
    question = slack.inbound("how long does shipping take?", user="U-ana", channel="D-ana")
    answer = await slack.deliver(question)
    assert answer is not None and answer.sources, "the shipping question should be answered from knowledge"
    await runtime.engine.feedback(Feedback("slack", question.conversation, "U-ana", question.message_id,
                                           FeedbackKind.NOT_HELPFUL, feedback_id="thumbs-1"))
    chats.disliked_question, chats.disliked_answer = question.text, answer.text
    await slack.say("I'm not happy, this is taking forever", user="U-ana", channel="D-ana")

    chats.unanswered = "what's the weather on Mars?"
    await slack.say(chats.unanswered, user="U-mars", channel="D-mars", name="Sam")

    await telegram.say("I want to talk to a person", user="T-1", channel="chat-1", name="Tess")
    await telegram.say("hi", user="T-2", channel="chat-2", name="Ravi")
    await telegram.say("thanks, bye", user="T-2", channel="chat-2", thread="later", name="Ravi")
    return chats
