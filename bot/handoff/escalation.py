"""Escalation rules from config.yaml. Each returns the name of the rule that fired, for the record."""

from __future__ import annotations

import re

from bot.config import Handoff as Rules
from bot.stages.understand import Understanding
from bot.store.tables import Customer, Turn
from bot.types import SentimentLabel

# The bot's own actions that mean it could not help.
UNRESOLVED = {"unknown", "clarify"}


class Escalation:
    def __init__(self, rules: Rules, negative_score: float = -0.3) -> None:
        self._rules = rules
        self._negative = negative_score
        self._topics = {
            topic: re.compile("|".join(rf"\b{re.escape(p)}\b" for p in phrases), re.I)
            for topic, phrases in rules.topics.items() if phrases
        }

    def rule(self, customer: Customer, understanding: Understanding, recent: list[Turn]) -> str:
        """The first rule that calls for a person, or "" to let the bot answer."""
        if understanding.wants_human:
            return "asked_for_person"
        if understanding.intent.label in self._rules.intents:
            return f"intent:{understanding.intent.label}"
        for topic, pattern in self._topics.items():
            if pattern.search(understanding.text):
                return f"topic:{topic}"
        negative = (understanding.sentiment.label is SentimentLabel.NEGATIVE
                    and understanding.sentiment.score <= self._negative)
        if negative and self._is_vip(customer):
            return "vip_unhappy"
        if self._rules.negative_turns and negative:
            earlier = [t.sentiment for t in recent if t.role == "customer"][-(self._rules.negative_turns - 1):]
            if len(earlier) == self._rules.negative_turns - 1 and all(s is not None and s <= self._negative for s in earlier):
                return "negative_trend"
        return ""

    def unresolved_again(self, recent: list[Turn]) -> bool:
        """This answer would be one more "I couldn't help" in a conversation that already had enough."""
        if not self._rules.unresolved_repeats:
            return False
        misses = sum(1 for t in recent if t.role == "bot" and t.action in UNRESOLVED)
        return misses + 1 >= self._rules.unresolved_repeats

    def _is_vip(self, customer: Customer) -> bool:
        attributes = customer.attributes or {}
        return any(str(attributes.get(k, "")).lower() == v.lower() for k, v in self._rules.vip.items())
