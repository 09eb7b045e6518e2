"""Agents teach the bot: a resolved handoff's question and the agent's answer become a review candidate;
an approved one is a knowledge section at once ("Answered by our team"), exported as Markdown for knowledge/.

``TeamAnswers`` is the service the desk, the CLI and the admin console share. Approval writes the section
into the public pages collection (embedded by the project's embedder, indexed twice like an ingested
section: by its question alone and by question plus answer) under source ``review/<id>``, which
``rapport ingest`` leaves alone, then rebuilds this process's keyword index. Other processes find it by
meaning at once (the vector store is shared; a section their keyword index has not seen is scored on its
cosine alone) and by keywords after their next start or ingest.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bot.embedder import Embedder, embed_async
from bot.errors import ReviewError
from bot.knowledge.ingest import TEAM_SOURCE_PREFIX
from bot.knowledge.search import PageCollections
from bot.store.review import HandoffTalk, ReviewQueue, ReviewRecord, ReviewStatus

__all__ = ["TEAM_TITLE", "Candidate", "TeamAnswers", "candidate_of", "export_markdown", "team_source"]

log = logging.getLogger("rapport.learning")

TEAM_TITLE = "Answered by our team"
EXPORT_FILE = "answered-by-our-team.md"
# The customer's messages that were questions the bot could not answer: the misses that led to the handoff,
# the message that opened it when the bot could not help, and what they wrote while a person had it.
MISSES = ("unknown", "clarify", "upset")
OPENED_BY_A_MISS = "unresolved_repeats"
WHILE_HANDED_OFF = "silent"
MAX_QUESTION = 300


def team_source(item_id: int) -> str:
    return f"{TEAM_SOURCE_PREFIX}{item_id}"


@dataclass(frozen=True, slots=True)
class Candidate:
    asked: str  # every question the customer asked, one per line
    question: str  # the proposed section heading: the first of them
    answer: str  # the agents' replies, in order


def one_line(text: str) -> str:
    return " ".join(text.split())[:MAX_QUESTION]


def candidate_of(talk: HandoffTalk, rule: str) -> Candidate | None:
    """What a resolved handoff teaches, or None when the customer asked nothing the bot missed or no agent
    answered (a handoff resolved without a word is nothing to learn from)."""
    asked = [t.text for t in talk.customer
             if t.action in MISSES or (t.action == "handoff" and rule == OPENED_BY_A_MISS)]
    if not asked:  # asked for a person straight away: the question came while they waited
        asked = [t.text for t in talk.customer if t.action == WHILE_HANDED_OFF and "?" in t.text]
    answer = "\n\n".join(a.strip() for a in talk.agent if a.strip())
    asked = [one_line(a) for a in asked if a.strip()]
    if not asked or not answer:
        return None
    return Candidate("\n".join(dict.fromkeys(asked)), asked[0], answer)


class TeamAnswers:
    def __init__(self, queue: ReviewQueue, pages: PageCollections, embedder: Embedder) -> None:
        self.queue = queue
        self._pages = pages
        self._embedder = embedder

    async def collect(self, handoff: Any) -> ReviewRecord | None:
        """Called once a handoff is resolved: queue its candidate (once per handoff), or None."""
        candidate = candidate_of(await self.queue.talk(handoff), handoff.rule)
        if candidate is None:
            return None
        item = await self.queue.add(handoff, candidate.asked, candidate.question, candidate.answer)
        if item is not None:
            log.info("review candidate queued", extra={"review_id": item.id, "handoff_id": handoff.id})
        return item

    async def _pending(self, item_id: int) -> ReviewRecord:
        item = await self.queue.get(item_id)
        if item is None:
            raise ReviewError(f"there is no review item #{item_id}", fix="see `rapport review list` for the ids")
        if item.status is not ReviewStatus.PENDING:
            raise ReviewError(f"review item #{item_id} is already {item.status}",
                              fix="only pending items can be approved or rejected")
        return item

    async def approve(self, item_id: int, question: str | None = None, answer: str | None = None) -> ReviewRecord:
        """Approve as proposed, or with the admin's ``question`` / ``answer``; the section is searchable on return."""
        item = await self._pending(item_id)
        question = one_line(question if question is not None else item.question)
        answer = (answer if answer is not None else item.answer).strip()
        if not question or not answer:
            raise ReviewError(f"review item #{item_id} needs a question and an answer",
                              fix="give both (--edit or --text), or reject it")
        # The section first: approving twice writes the same ids, while a status set before a failed write
        # would claim an answer the bot cannot find.
        await self._publish(item_id, question, answer)
        if not await self.queue.decide(item_id, ReviewStatus.APPROVED, question, answer):
            current = await self.queue.get(item_id)
            if current is None or current.status is not ReviewStatus.APPROVED:
                await self._pages.delete(where={"source": team_source(item_id)})
                await self._pages.refresh_lexical()
            raise ReviewError(f"review item #{item_id} was decided meanwhile", fix="see `rapport review list`")
        log.info("review item approved", extra={"review_id": item_id})
        approved = await self.queue.get(item_id)
        assert approved is not None
        return approved

    async def reject(self, item_id: int) -> ReviewRecord:
        """Nothing reaches knowledge; the item stays, rejected, until the customer is forgotten."""
        await self._pending(item_id)
        if not await self.queue.decide(item_id, ReviewStatus.REJECTED):
            raise ReviewError(f"review item #{item_id} was decided meanwhile", fix="see `rapport review list`")
        log.info("review item rejected", extra={"review_id": item_id})
        rejected = await self.queue.get(item_id)
        assert rejected is not None
        return rejected

    async def _publish(self, item_id: int, question: str, answer: str) -> None:
        source = team_source(item_id)
        meta = {"source": source, "digest": "", "title": TEAM_TITLE, "section": question, "chunk": 0,
                "internal": False, "kind": "review"}
        vectors = await embed_async(self._embedder, [f"{question}\n{answer}", question])
        await self._pages.upsert(ids=[f"page:{source}#0", f"page:{source}#0:q"], embeddings=vectors,
                                 documents=[answer, answer], metadatas=[meta, meta])
        await self._pages.refresh_lexical()

    async def export(self, folder: Path) -> Path:
        """Write every approved answer to ``folder/answered-by-our-team.md``; returns the file's path."""
        approved = sorted(await self.queue.items(ReviewStatus.APPROVED, limit=100_000), key=lambda i: i.id)
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / EXPORT_FILE
        path.write_text(export_markdown(approved), encoding="utf-8")
        return path


def _safe_body(text: str) -> str:
    # A line starting with '#' would open a new section when the page is ingested: escape it.
    return "\n".join(re.sub(r"^(\s*)#", r"\1\\#", line) for line in text.strip().splitlines())


def export_markdown(items: list[ReviewRecord]) -> str:
    """A knowledge page in the shape ``rapport ingest`` reads: front matter, then one ``##`` question per answer."""
    lines = ["---", f"title: {TEAM_TITLE}",
             "summary: Answers our agents gave in handoffs, approved with `rapport review approve`.", "---", ""]
    for item in items:
        lines += [f"## {one_line(item.question)}", "", _safe_body(item.answer), ""]
    return "\n".join(lines)
