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
from bot.llm.stream import TextOfJson
from bot.types import Reply
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
