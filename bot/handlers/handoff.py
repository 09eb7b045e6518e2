"""Hand the conversation to a person: asked for, or an escalation rule from config.yaml fired."""

from __future__ import annotations

from bot.handlers.base import Decision, Draft, Handler, Outcome, Situation, fmt

_REASONS = {"asked_for_person": "customer asked for a person", "vip_unhappy": "an unhappy VIP customer",
            "negative_trend": "negative sentiment over several messages",
            "unresolved_repeats": "the bot could not help several times", "safety": "a product safety report"}


def reason_for(rule: str) -> str:
    topic = rule.split(":", 1)[-1].replace("_", " ")
    return _REASONS.get(rule, f"topic needs a person ({topic})")


class HandOff(Handler):
    name = "handoff"

    def decide(self, situation: Situation) -> Decision | None:
        if situation.understanding.command is not None:
            return None
        rule = self.services.escalation.rule(situation.customer, situation.understanding, situation.state)
        return self.decision(reason_for(rule), rule=rule, opens_handoff=True) if rule else None

    def compose(self, situation: Situation, decision: Decision, outcome: Outcome, fill: dict[str, str]) -> Draft:
        return Draft(fmt(self.t.handoff, fill))
