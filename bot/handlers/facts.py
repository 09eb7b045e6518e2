"""A question about something the customer told us: "what's my dog's name?" from their profile, "what did
I tell you about my dog?" from what they said (this conversation's turns and their semantic memory),
whichever platform they told it on."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from bot.customers.preferences import asked_fact, facts_of
from bot.customers.told import asked_what_they_told, best_told, in_their_words, said_back, told_about_themselves
from bot.handlers.base import Decision, Draft, Handler, Outcome, Situation, fmt, when
from bot.store.statuses import TurnRole


_TOLD = "told:"  # the decision's detail for a question about what they told: "told:my dog"


@dataclass(frozen=True, slots=True)
class _Said:
    text: str
    at: str
    similarity: float


class FactRecall(Handler):
    name = "fact_recall"
    memorable = False

    def decide(self, situation: Situation) -> Decision | None:
        if situation.understanding.command is not None:
            return None
        key = asked_fact(situation.text)
        if key:
            return self.decision(f"asked for a stated fact ({key})", detail=key)
        topic = asked_what_they_told(situation.text)
        return self.decision("asked what they told us", detail=f"{_TOLD}{topic}") if topic else None

    def compose(self, situation: Situation, decision: Decision, outcome: Outcome, fill: dict[str, str]) -> Draft:
        if decision.detail.startswith(_TOLD):
            return self._told(situation, decision.detail.removeprefix(_TOLD), fill)
        facts = facts_of(situation.customer.preferences)
        fact = facts.get(decision.detail) or (facts.get("preferred_name") if decision.detail == "name" else None)
        if fact is None and decision.detail == "name" and situation.customer.name:
            return Draft(f"You're {situation.customer.name}, as far as our records go.")
        if fact is None:
            return Draft(fmt(self.t.fact_unknown, fill))
        said = when(fact.said_at) if fact.said_at else "earlier"
        label = "name" if fact.key == "preferred_name" else fact.label
        return Draft(fmt(self.t.fact_recall, fill, said=said, label=label, value=fact.value))

    def _told(self, situation: Situation, topic: str, fill: dict[str, str]) -> Draft:
        # This conversation's own messages first (recall leaves them to the recent turns), then older ones.
        recent = [_Said(t.text, t.created_at.isoformat(), 1.0) for t in situation.context.recent_turns
                  if t.role is TurnRole.CUSTOMER and t.text != situation.text]
        said = best_told(topic, recent) or best_told(topic, situation.context.memories)
        if said is None:
            return Draft(fmt(self.t.fact_unknown, fill))
        try:
            moment = when(datetime.fromisoformat(said.at)) or "earlier"
        except ValueError:
            moment = "earlier"
        # Said back respelt ("your dog is allergic to chicken"); words we cannot read are quoted as they wrote them.
        statement = said_back(told_about_themselves(said.text))
        if statement:
            return Draft(fmt(self.t.told_recall, fill, said=moment, statement=in_their_words(statement)))
        return Draft(fmt(self.t.told_recall_quote, fill, said=moment, quote=said.text.strip()[:300]))
