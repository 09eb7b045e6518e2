"""Knowledge gaps: unanswered questions grouped by meaning with the project's embedder, biggest group first."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bot.embedder import load_embedder
from bot.learning.gaps import KnowledgeGaps, cluster
from bot.runtime import Runtime
from bot.store.review import AskedTurn
from bot.store.tables import Customer, Handoff, Turn

T0 = datetime(2026, 11, 1, tzinfo=UTC)


def asked(texts: list[str], platform: str = "slack") -> list[AskedTurn]:
    return [AskedTurn(t, "unknown", platform, T0 + timedelta(minutes=n)) for n, t in enumerate(texts)]


def test_paraphrases_group_together_and_the_biggest_group_comes_first() -> None:
    turns = asked(["Do you offer a student discount?", "is there a discount for students", "student discount?",
                   "Can I pick up my order at your warehouse?", "can i collect my order from the warehouse",
                   "Do you ship to Antarctica?", "do you offer a student discount?"])
    texts = list(dict.fromkeys(" ".join(t.text.lower().split()) for t in turns))
    groups = cluster(turns, load_embedder().embed(texts))
    assert [g.count for g in groups] == [4, 2, 1]
    assert groups[0].examples[0] == "do you offer a student discount?"  # the most asked wording, latest spelling
    assert all("student" in e for e in groups[0].examples)
    assert all("warehouse" in e for e in groups[1].examples)
    assert groups[2].examples == ("Do you ship to Antarctica?",)


async def test_only_questions_the_bot_could_not_answer_count(runtime: Runtime) -> None:
    async with runtime.database.session() as session:
        customer = Customer(name="Kim")
        session.add(customer)
        await session.flush()
        rows = [("Do you offer a student discount?", "unknown", "c1"), ("student discount please?", "clarify", "c2"),
                ("how long does shipping take?", "answer", "c3"), ("I want to talk to a person", "handoff", "c4"),
                ("is there a student discount", "handoff", "c5")]
        for text, action, conversation in rows:
            session.add(Turn(customer_id=customer.id, conversation=conversation, platform="test", role="customer",
                             text=text, action=action))
        session.add(Handoff(customer_id=customer.id, conversation="c4", rule="asked_for_person"))
        # The third miss in a row handed off: that message was a question nobody answered too.
        session.add(Handoff(customer_id=customer.id, conversation="c5", rule="unresolved_repeats"))
        await session.commit()
    groups = await KnowledgeGaps(runtime.team_answers.queue, runtime.embedder).clusters()
    assert [(g.count, sorted(g.examples)) for g in groups] == [
        (3, ["Do you offer a student discount?", "is there a student discount", "student discount please?"])]
