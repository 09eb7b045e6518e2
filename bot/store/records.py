"""Frozen copies of store rows for the stages, handlers and desks: rows stay inside ``bot/store``.

A SQLModel row is mutable and bound to the session that read it; a stage that changed one by mistake
would change nothing stored, or the wrong thing at the next commit. Records are read-only values.
"""

from __future__ import annotations

from copy import deepcopy
from dataclasses import dataclass
from datetime import datetime
from types import MappingProxyType
from typing import Any, Mapping

from bot.store.statuses import HandoffStatus, TurnRole
from bot.store.tables import Customer, Handoff, Turn, as_utc


@dataclass(frozen=True, slots=True)
class CustomerRecord:
    """A person Rapport talks to, as stored when read. ``preferences`` is the facts dict as stored (read it
    with :func:`bot.customers.preferences.facts_of`); it and ``attributes`` are read-only views."""

    id: int
    external_id: str | None
    name: str
    email: str | None
    locale: str
    organisation: str
    attributes: Mapping[str, Any]
    preferences: Mapping[str, Any]
    stage: str
    created_at: datetime
    last_seen_at: datetime

    @property
    def first_name(self) -> str:
        return self.name.split()[0] if self.name.strip() else ""

    @classmethod
    def of(cls, row: Customer) -> CustomerRecord:
        assert row.id is not None, "only stored customers have records"
        return cls(row.id, row.external_id, row.name, row.email, row.locale, row.organisation,
                   MappingProxyType(deepcopy(row.attributes or {})), MappingProxyType(deepcopy(row.preferences or {})),
                   row.stage, as_utc(row.created_at), as_utc(row.last_seen_at))


@dataclass(frozen=True, slots=True)
class TurnRecord:
    """One stored message of a conversation: the customer's, the bot's or an agent's."""

    id: int
    customer_id: int
    conversation: str
    platform: str
    role: TurnRole
    text: str
    message_id: str
    sentiment: float | None
    action: str
    sources: tuple[str, ...]
    created_at: datetime

    @classmethod
    def of(cls, row: Turn) -> TurnRecord:
        assert row.id is not None, "only stored turns have records"
        return cls(row.id, row.customer_id, row.conversation, row.platform, TurnRole(row.role), row.text,
                   row.message_id, row.sentiment, row.action, tuple(row.sources or ()), as_utc(row.created_at))


@dataclass(frozen=True, slots=True)
class HandoffRecord:
    """A conversation handed to a person, as stored when it was read."""

    id: int
    customer_id: int
    conversation: str
    status: HandoffStatus
    reason: str
    rule: str  # an EscalationRule, or intent:<label> / topic:<name>
    agent: str
    desk_ref: str  # where agents work on it (e.g. the Slack thread); "" until announced
    created_at: datetime

    @classmethod
    def of(cls, row: Handoff) -> HandoffRecord:
        assert row.id is not None, "only stored handoffs have records"
        return cls(row.id, row.customer_id, row.conversation, HandoffStatus(row.status), row.reason, row.rule,
                   row.agent, row.desk_ref, as_utc(row.created_at))
