"""A question about something the customer told us ("what's my dog's name?"): answered from their
profile, whichever platform they told it on."""

from __future__ import annotations

from bot.customers.preferences import asked_fact, facts_of
from bot.handlers.base import Decision, Draft, Handler, Outcome, Situation, fmt, when


class FactRecall(Handler):
    name = "fact_recall"
    memorable = False

    def decide(self, situation: Situation) -> Decision | None:
        if situation.understanding.command is not None:
            return None
        key = asked_fact(situation.text)
        return self.decision(f"asked for a stated fact ({key})", detail=key) if key else None

    def compose(self, situation: Situation, decision: Decision, outcome: Outcome, fill: dict[str, str]) -> Draft:
        facts = facts_of(situation.customer.preferences)
        fact = facts.get(decision.detail) or (facts.get("preferred_name") if decision.detail == "name" else None)
        if fact is None and decision.detail == "name" and situation.customer.name:
            return Draft(f"You're {situation.customer.name}, as far as our records go.")
        if fact is None:
            return Draft(fmt(self.t.fact_unknown, fill))
        said = when(fact.said_at) if fact.said_at else "earlier"
        label = "name" if fact.key == "preferred_name" else fact.label
        return Draft(fmt(self.t.fact_recall, fill, said=said, label=label, value=fact.value))
