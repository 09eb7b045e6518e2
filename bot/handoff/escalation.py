"""Escalation rules from config.yaml. Each returns the name of the rule that fired, for the record.

Counts run over the current stretch the bot owns (kept in the dialogue state): turns before or
during an earlier handoff never count, and a resolved handoff starts afresh.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from bot.config import Handoff as Rules
from bot.handoff.rules import EscalationRule, intent_rule, topic_rule
from bot.nlp.sentiment import sounds_upset
from bot.store.records import CustomerRecord
from bot.types import SentimentLabel

if TYPE_CHECKING:
    from bot.stages.understand import Understanding
    from bot.store.dialogue import DialogueState


class Escalation:
    def __init__(self, rules: Rules, negative_score: float = -0.3) -> None:
        self._rules = rules
        self._negative = negative_score
        self._topics = {
            topic: re.compile("|".join(rf"\b{re.escape(p)}\b" for p in phrases), re.I)
            for topic, phrases in rules.topics.items() if phrases
        }

    def is_negative(self, understanding: Understanding) -> bool:
        return (understanding.sentiment.label is SentimentLabel.NEGATIVE
                and understanding.sentiment.score <= self._negative)

    def rule(self, customer: CustomerRecord, understanding: Understanding, state: DialogueState) -> str:
        """The first rule that calls for a person (an ``EscalationRule``, or an intent or topic rule), or ""
        to let the bot answer."""
        if understanding.wants_human:
            return EscalationRule.ASKED_FOR_PERSON
        if understanding.intent.label in self._rules.intents:
            return intent_rule(understanding.intent.label)
        for topic, pattern in self._topics.items():
            if pattern.search(understanding.text):
                return topic_rule(topic)
        negative = self.is_negative(understanding)
        # A VIP's plain problem ("i want to return my jacket, it doesnt fit", -0.69) gets the answer first,
        # like anyone's; one who sounds upset goes to a person at once.
        if negative and understanding.sentiment.score <= self._rules.vip_unhappy_sentiment and self._is_vip(customer) \
                and sounds_upset(understanding.text):
            return EscalationRule.VIP_UNHAPPY
        if self._rules.negative_turns and negative and state.negatives + 1 >= self._rules.negative_turns:
            return EscalationRule.NEGATIVE_TREND
        return ""

    def hand_off_after_miss(self, state: DialogueState) -> bool:
        """This turn would be one miss too many in a row: a person takes over."""
        return bool(self._rules.unresolved_repeats) and state.misses + 1 >= self._rules.unresolved_repeats

    def offer_after_miss(self, state: DialogueState) -> bool:
        """This miss makes enough in a row to offer a person (a button, not a handoff)."""
        return bool(self._rules.offer_person_after) and state.misses + 1 >= self._rules.offer_person_after

    def _is_vip(self, customer: CustomerRecord) -> bool:
        attributes = customer.attributes or {}
        return any(str(attributes.get(k, "")).lower() == v.lower() for k, v in self._rules.vip.items())
