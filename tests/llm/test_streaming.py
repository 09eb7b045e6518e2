"""Streaming: checked sentences are shown as they come; a failing sentence or a broken stream ends the
stream and the final reply (the one the outbox sends) is the offline draft."""

from __future__ import annotations

import io
import json
from dataclasses import dataclass, field

from rich.console import Console

from adapters.console import ConsoleAdapter
from bot.llm import LlmComposer
from bot.llm.grounding import Check
from bot.llm.stream import EditingStream, EditThrottle, TextOfJson
from bot.types import ConversationKey, Reply
from tests.fakes.openai import Answer, FakeOpenAI
from tests.llm.conftest import ANA_EMAIL, DRAFT_TEXT, request

TWO_SENTENCES = "Your lamp (order 1042) shipped on 2026-11-16. Its tracking number is 1Z999AA10123456784 [1]."


@dataclass
class RecordingSink:
    sentences: list[str] = field(default_factory=list)
    abandoned: bool = False

    async def text(self, sentence: str) -> None:
        assert not self.abandoned, "nothing is shown after the stream ended"
        self.sentences.append(sentence)

    async def abandon(self) -> None:
        self.abandoned = True


async def test_checked_sentences_are_shown_as_they_come(fake: FakeOpenAI, composer: LlmComposer) -> None:
    fake.script(Answer(TWO_SENTENCES, chunk=6))
    sink = RecordingSink()

    result = await composer.compose_detailed(request(), sink)

    assert sink.sentences == ["Your lamp (order 1042) shipped on 2026-11-16.",
                              "Its tracking number is 1Z999AA10123456784."]
    assert not sink.abandoned and result.by_model and result.reply.text == " ".join(sink.sentences)


async def test_an_invented_price_ends_the_stream_before_it_is_shown(fake: FakeOpenAI, composer: LlmComposer) -> None:
    fake.script(Answer("Your lamp (order 1042) shipped on 2026-11-16. You get a $25.00 credit. Thanks!", chunk=6))
    sink = RecordingSink()

    result = await composer.compose_detailed(request(), sink)

    assert sink.sentences == ["Your lamp (order 1042) shipped on 2026-11-16."] and sink.abandoned
    assert not any("$25" in s for s in sink.sentences)
    assert not result.by_model and result.reply.text == DRAFT_TEXT and result.checks == (Check.MONEY,)
    assert len(fake.requests) == 1  # shown text is not regenerated: the draft is the final reply


async def test_a_stream_that_breaks_mid_way_is_replaced_by_the_draft(fake: FakeOpenAI, composer: LlmComposer) -> None:
    fake.script(Answer(TWO_SENTENCES, chunk=8, stall_after=7))  # hangs after the first sentence
    fake.default = Answer("Something else entirely, retried.")
    sink = RecordingSink()

    result = await composer.compose_detailed(request(), sink)

    assert sink.sentences == ["Your lamp (order 1042) shipped on 2026-11-16."] and sink.abandoned
    assert not result.by_model and result.reply.text == DRAFT_TEXT and result.checks == (Check.STREAM,)


async def test_a_structured_answer_streams_its_text_and_placeholders_are_restored(
        fake: FakeOpenAI, composer: LlmComposer) -> None:
    raw = json.dumps({"action": "answer", "text": "We'll write to [EMAIL_1]. Order 1042 is on its way."})
    fake.script(Answer(raw, chunk=5))
    sink = RecordingSink()

    result = await composer.compose_detailed(request(), sink)

    assert sink.sentences == [f"We'll write to {ANA_EMAIL}.", "Order 1042 is on its way."]
    assert result.action == "answer" and result.reply.text == " ".join(sink.sentences)


def test_text_of_json_decodes_what_has_arrived() -> None:
    reader = TextOfJson()
    pieces = ['{"action": "ans', 'wer", "te', 'xt": "Gr\\u00', 'fc\\u00df Gott', ' \\"Ana\\"', '"}']
    assert "".join(reader.feed(p) for p in pieces) == 'Grüß Gott "Ana"'
    assert TextOfJson().feed("plain text") == "plain text"


def console_adapter() -> tuple[ConsoleAdapter, io.StringIO]:
    out = io.StringIO()
    return ConsoleAdapter("u1", console=Console(file=out, width=200), stdin=io.StringIO()), out


async def test_the_console_prints_the_stream_once_and_then_only_what_follows() -> None:
    adapter, out = console_adapter()
    stream = adapter.stream_for(adapter.conversation, "s-1")
    assert stream is not None
    await stream.text("Your lamp shipped.")
    await stream.text("It arrives soon.")

    await adapter.send(Reply(adapter.conversation, "s-1", "Your lamp shipped. It arrives soon."))

    assert out.getvalue().count("Your lamp shipped.") == 1 and "It arrives soon." in out.getvalue()


async def test_the_console_replaces_an_abandoned_stream_with_the_final_reply() -> None:
    adapter, out = console_adapter()
    stream = adapter.stream_for(adapter.conversation, "s-2")
    assert stream is not None
    await stream.text("Your lamp shipped.")
    await stream.abandon()

    await adapter.send(Reply(adapter.conversation, "s-2", "Order 1042 shipped on 2026-11-16."))

    assert "stopped" in out.getvalue() and "Order 1042 shipped on 2026-11-16." in out.getvalue()


def test_no_stream_for_json_output() -> None:
    adapter = ConsoleAdapter("u1", json_output=True, stdin=io.StringIO())
    assert adapter.stream_for(adapter.conversation, "s-3") is None


# --- platforms that edit: a placeholder edited as sentences arrive (bot/llm/stream.py) ---------------


@dataclass
class RecordingEditor:
    posted: list[str] = field(default_factory=list)
    edits: list[tuple[str, str]] = field(default_factory=list)
    refuse: bool = False

    async def post_placeholder(self, conversation: ConversationKey, text: str) -> str:
        if self.refuse:
            raise ConnectionError("platform down")
        self.posted.append(text)
        return f"{conversation.channel}:{len(self.posted)}"

    async def edit_placeholder(self, conversation: ConversationKey, message: str, text: str) -> None:
        if self.refuse:
            raise ConnectionError("platform down")
        self.edits.append((message, text))


@dataclass
class MemoryBook:
    held: dict[str, str] = field(default_factory=dict)

    async def hold_placeholder(self, key: str, platform: str, message: str) -> None:
        self.held.setdefault(key, message)

    async def placeholder(self, key: str) -> str | None:
        return self.held.get(key)


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


CHAT = ConversationKey("telegram", "1", "555", "")


async def test_the_first_sentence_posts_a_placeholder_and_later_ones_edit_it_at_most_once_a_second() -> None:
    editor, book, clock = RecordingEditor(), MemoryBook(), Clock()
    stream = EditingStream(editor, book, EditThrottle(1.0, clock), CHAT, "r-key")
    await stream.text("Your lamp shipped.")
    clock.now += 0.4
    await stream.text("It arrives Friday.")  # too soon: shown by the next edit
    clock.now += 0.7
    await stream.text("Track it online.")
    assert editor.posted == ["Your lamp shipped."] and book.held == {"r-key": "555:1"}
    assert editor.edits == [("555:1", "Your lamp shipped. It arrives Friday. Track it online.")]


async def test_the_throttle_is_per_chat() -> None:
    clock = Clock()
    throttle = EditThrottle(1.0, clock)
    assert throttle.allow("a") and throttle.allow("b") and not throttle.allow("a")
    clock.now += 1.0
    assert throttle.allow("a")


async def test_a_retried_turn_edits_the_placeholder_its_dead_process_posted() -> None:
    editor, book = RecordingEditor(), MemoryBook({"r-key": "555:7"})
    stream = EditingStream(editor, book, EditThrottle(0.0), CHAT, "r-key")
    await stream.text("Your lamp shipped.")
    assert editor.posted == [] and editor.edits == [("555:7", "Your lamp shipped.")] and stream.message == "555:7"


async def test_after_abandon_or_a_platform_refusal_nothing_more_is_shown() -> None:
    editor, book = RecordingEditor(), MemoryBook()
    stream = EditingStream(editor, book, EditThrottle(0.0), CHAT, "r-key")
    await stream.text("Your lamp shipped.")
    await stream.abandon()
    await stream.text("You get a $25.00 credit.")
    assert editor.edits == []

    refused = EditingStream(RecordingEditor(refuse=True), MemoryBook(), EditThrottle(0.0), CHAT, "r-other")
    await refused.text("Your lamp shipped.")  # no exception: the outbox still sends the reply
    assert refused.stopped and refused.message is None
