"""The names of the escalation rules, as stored on a handoff (``Handoff.rule``) and shown to agents.

Rules from config.yaml that carry a name of the admin's (an intent, a topic) are written
``intent:<label>`` / ``topic:<name>``; the rest are fixed names, one enum so none drifts.
"""

from __future__ import annotations

from enum import StrEnum


class EscalationRule(StrEnum):
    ASKED_FOR_PERSON = "asked_for_person"
    VIP_UNHAPPY = "vip_unhappy"
    NEGATIVE_TREND = "negative_trend"
    UNRESOLVED_REPEATS = "unresolved_repeats"
    SAFETY = "safety"


INTENT_PREFIX = "intent:"
TOPIC_PREFIX = "topic:"


def intent_rule(label: str) -> str:
    """The rule name for an intent listed in ``handoff.intents``."""
    return f"{INTENT_PREFIX}{label}"


def topic_rule(topic: str) -> str:
    """The rule name for a topic listed in ``handoff.topics``."""
    return f"{TOPIC_PREFIX}{topic}"
