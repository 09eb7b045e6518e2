"""6. decide: ask the registered handlers in order (``bot/handlers/registry.py``); the first that
applies decides the turn. Then the one policy that spans handlers: a run of turns the bot could not
help with first offers a person, then hands off."""

from __future__ import annotations

from dataclasses import replace

from bot.handlers.base import Decision, Registry, Situation
from bot.handlers.handoff import HandOff, reason_for
from bot.handoff.escalation import Escalation
from bot.handoff.rules import EscalationRule

__all__ = ["Decide", "Decision"]


class Decide:
    def __init__(self, registry: Registry, escalation: Escalation) -> None:
        self.registry = registry
        self._escalation = escalation
        self._handoff = next(h for h in registry.handlers if isinstance(h, HandOff))

    def __call__(self, situation: Situation) -> Decision:
        decision = next(d for h in self.registry.handlers if (d := h.decide(situation)) is not None)
        if decision.miss:
            state = situation.state
            if self._escalation.hand_off_after_miss(state):
                rule = EscalationRule.UNRESOLVED_REPEATS
                return self._handoff.decision(reason_for(rule), rule=rule, opens_handoff=True)
            if self._escalation.offer_after_miss(state):
                decision = replace(decision, offer_person=True)
        return decision
