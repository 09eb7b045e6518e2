"""Agents teach the bot: a resolved handoff becomes one review candidate; once approved, another customer
asking the same thing in other words gets the agent's answer, "Answered by our team"."""

from __future__ import annotations

import logging
import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlmodel import select

from bot.config import Config
from bot.errors import ReviewError
from bot.knowledge.ingest import KnowledgeFiles, ingest
from bot.knowledge.pages import read_page
from bot.learning.review import TEAM_TITLE, team_source
from bot.runtime import Runtime
from bot.store.review import ReviewStatus
from bot.store.tables import Handoff, ReviewItem
from tests.handoff.test_handoff import RecordingDesk
from tests.recording import RecordingAdapter

QUESTION = "Do you offer a discount for students?"
PARAPHRASE = "is there a student discount?"
ANSWER = "Yes: students get 15% off full-price items with a valid student email, verified at checkout."


@pytest.fixture
async def runtime(repo_config: Config, data_dir: Path) -> AsyncIterator[Runtime]:
    async with Runtime.open(repo_config, data_dir, desk=RecordingDesk()) as opened:
        yield opened


def customers_of(runtime: Runtime) -> RecordingAdapter:
    """The test platform, registered as its sender (agents' replies reach it through the outbox)."""
    adapter = RecordingAdapter(runtime.delivery.answer_inline)
    runtime.delivery.add_sender(adapter.platform, adapter.send)
    return adapter


async def teach(runtime: Runtime, user: str = "U1", name: str = "Ana Silva", question: str = QUESTION,
                answer: str = ANSWER) -> int:
    """A customer asks what the knowledge does not cover and asks for a person; an agent answers at the
    desk and resolves (driven as tests/handoff drive the desk). Returns the handoff's id."""
    adapter = customers_of(runtime)
    missed = await adapter.say(question, user=user, name=name)
    assert missed is not None and not missed.sources, "the knowledge must not cover the question yet"
    await adapter.say("I want to talk to a person", user=user, name=name)
    async with runtime.database.session() as session:
        handoff = (await session.exec(select(Handoff).where(Handoff.status == "pending"))).one()
    assert handoff.id is not None
    await runtime.desk.agent_message(handoff.id, "sam", answer, f"desk-{handoff.id}")
    assert (await runtime.desk.agent_resolve(handoff.id, "sam")).ok
    return handoff.id


async def test_a_resolved_handoff_becomes_one_candidate_even_when_resolved_again(runtime: Runtime) -> None:
    handoff_id = await teach(runtime)
    again = await runtime.desk.agent_resolve(handoff_id, "sam")
    assert not again.ok
    await runtime.team_answers.collect(again.handoff)  # even a second collection adds nothing
    (item,) = await runtime.team_answers.queue.items()
    assert (item.status, item.handoff_id, item.question, item.answer) == (ReviewStatus.PENDING, handoff_id, QUESTION, ANSWER)
    assert item.asked == QUESTION  # the request for a person is no question to learn from


async def test_a_handoff_without_an_agent_answer_teaches_nothing(runtime: Runtime) -> None:
    adapter = customers_of(runtime)
    await adapter.say(QUESTION, user="U2", name="Ben")
    await adapter.say("I want to talk to a person", user="U2", name="Ben")
    async with runtime.database.session() as session:
        handoff = (await session.exec(select(Handoff))).one()
    assert (await runtime.desk.agent_resolve(handoff.id, "sam")).ok
    assert await runtime.team_answers.queue.items() == []


async def test_approved_answer_reaches_another_customer_asking_in_other_words(runtime: Runtime, data_dir: Path,
                                                                              caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="rapport")
    await teach(runtime)
    (item,) = await runtime.team_answers.queue.items()
    adapter = customers_of(runtime)
    before = await adapter.say(PARAPHRASE, user="U9", name="Cy")
    assert before is not None and ANSWER not in before.text

    approved = await runtime.team_answers.approve(item.id)
    assert approved.status is ReviewStatus.APPROVED

    reply = await adapter.say(PARAPHRASE, user="U8", name="Dee")
    assert reply is not None and ANSWER in reply.text
    assert [(s.title, s.path) for s in reply.sources][:1] == [(TEAM_TITLE, team_source(item.id))]
    assert f"Source: {TEAM_TITLE}" in reply.text
    # Ids in the logs, never the customer's words or the agent's.
    assert not [r for r in caplog.records if QUESTION in r.getMessage() or ANSWER in r.getMessage()]

    # Another process (opened on the same data) finds it too, and `rapport ingest` keeps it.
    report = await runtime.ingest()
    assert team_source(item.id) not in report.removed
    sections = await runtime.knowledge.pages.metadatas({"source": team_source(item.id)})
    assert len(sections) == 2 and {m["title"] for m in sections.values()} == {TEAM_TITLE}

    with pytest.raises(ReviewError, match="already approved"):
        await runtime.team_answers.approve(item.id)


async def test_approve_with_edits_and_reject(runtime: Runtime) -> None:
    await teach(runtime)
    (item,) = await runtime.team_answers.queue.items()
    edited = await runtime.team_answers.approve(item.id, question="Is there a student discount?",
                                                answer="Students get 15% off with a student email.")
    assert (edited.question, edited.answer) == ("Is there a student discount?", "Students get 15% off with a student email.")
    texts = [d for _, d, m in await runtime.knowledge.pages.public.documents({"source": team_source(item.id)})]
    assert texts == ["Students get 15% off with a student email."] * 2

    async with runtime.database.session() as session:
        session.add(ReviewItem(handoff_id=999, customer_id=None, question="q?", answer="a"))
        await session.commit()
    (other,) = await runtime.team_answers.queue.items(ReviewStatus.PENDING)
    rejected = await runtime.team_answers.reject(other.id)
    assert rejected.status is ReviewStatus.REJECTED
    assert await runtime.knowledge.pages.metadatas({"source": team_source(other.id)}) == {}
    with pytest.raises(ReviewError, match="no review item #4242"):
        await runtime.team_answers.reject(4242)


async def test_export_is_a_page_ingest_reads_into_the_same_sections(runtime: Runtime, tmp_path: Path) -> None:
    await teach(runtime)
    (item,) = await runtime.team_answers.queue.items()
    await runtime.team_answers.approve(item.id, answer=ANSWER + "\n# not a heading")
    path = await runtime.team_answers.export(tmp_path / "pages")
    chunks = read_page(path, "knowledge/pages/answered-by-our-team.md", runtime.config.knowledge.chunk_size,
                       runtime.config.knowledge.chunk_overlap)
    assert [(c.title, c.section) for c in chunks] == [(TEAM_TITLE, QUESTION)]
    assert chunks[0].text.startswith(ANSWER) and "not a heading" in chunks[0].text


async def test_an_ingested_export_replaces_the_review_copy(runtime: Runtime, tmp_path: Path) -> None:
    await teach(runtime)
    (item,) = await runtime.team_answers.queue.items()
    await runtime.team_answers.approve(item.id)
    # The knowledge folder as an admin's checkout holds it, with the export committed to it (a copy: the
    # repository's own folder is left alone).
    files = runtime.knowledge_files()
    pages = tmp_path / "knowledge" / "pages"
    shutil.copytree(files.pages_dir, pages)
    await runtime.team_answers.export(pages)
    report = await ingest(KnowledgeFiles(pages, files.catalog, tmp_path), runtime.knowledge.pages,
                          runtime.knowledge.catalog, runtime.embedder, runtime.config.knowledge.chunk_size,
                          runtime.config.knowledge.chunk_overlap)
    assert team_source(item.id) in report.removed and "knowledge/pages/answered-by-our-team.md" in report.added
    assert await runtime.knowledge.pages.metadatas({"source": team_source(item.id)}) == {}
    adapter = customers_of(runtime)
    reply = await adapter.say(PARAPHRASE, user="U7", name="Eve")
    assert reply is not None and ANSWER in reply.text  # one section, not two tied copies
    assert reply.sources[0].path == "knowledge/pages/answered-by-our-team.md"


async def test_forget_deletes_pending_candidates_and_strips_approved_ones(runtime: Runtime) -> None:
    await teach(runtime, user="U1", name="Ana")
    await teach(runtime, user="U2", name="Ben")
    first, second = sorted(await runtime.team_answers.queue.items(), key=lambda i: i.id)
    await runtime.team_answers.approve(first.id)
    assert first.customer_id is not None and second.customer_id is not None
    await runtime.privacy.forget(first.customer_id)
    await runtime.privacy.forget(second.customer_id)
    (kept,) = await runtime.team_answers.queue.items()
    assert (kept.id, kept.status, kept.customer_id, kept.asked, kept.conversation) == (
        first.id, ReviewStatus.APPROVED, None, "", "")
    assert (kept.question, kept.answer) == (QUESTION, ANSWER)  # as the admin approved it
    assert await runtime.knowledge.pages.metadatas({"source": team_source(first.id)})  # still answers
