"""Hand the conversation to a person: asked for, or an escalation rule from config.yaml fired."""

from __future__ import annotations

from bot.handlers.base import Decision, Draft, Handler, Outcome, Situation, fmt
from bot.handoff.rules import EscalationRule

# One reason per fixed rule: a rule added to the enum without a reason fails the import, not a handoff.
_REASONS: dict[str, str] = {
    EscalationRule.ASKED_FOR_PERSON: "customer asked for a person",
    EscalationRule.VIP_UNHAPPY: "an unhappy VIP customer",
    EscalationRule.NEGATIVE_TREND: "negative sentiment over several messages",
    EscalationRule.UNRESOLVED_REPEATS: "the bot could not help several times",
    EscalationRule.SAFETY: "a product safety report",
}
assert set(_REASONS) == set(EscalationRule), "every escalation rule needs a reason for the desk"


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
