"""The names rows store in their ``role`` and ``status`` columns, one enum each so a comparison can never
drift from what was written. The columns stay plain strings (a StrEnum is a ``str``): the schema and
rows written by earlier versions are unchanged."""

from __future__ import annotations

from enum import StrEnum


class TurnRole(StrEnum):
    """Who wrote a turn."""

    CUSTOMER = "customer"
    BOT = "bot"
    AGENT = "agent"  # a person at the desk, relayed to the customer


class HandoffStatus(StrEnum):
    """bot → pending → human → resolved → bot (bot/handoff/book.py moves between them)."""

    PENDING = "pending"  # waiting for an agent
    HUMAN = "human"  # an agent claimed it
    RESOLVED = "resolved"  # handed back to the bot


# A conversation in one of these belongs to a person: the bot stays silent.
OPEN_HANDOFF = (HandoffStatus.PENDING, HandoffStatus.HUMAN)


class InboxStatus(StrEnum):
    """Where a received message is on its way to an answer."""

    QUEUED = "queued"  # stored, its turn not started
    PROCESSING = "processing"  # a worker holds its lease
    ANSWERED = "answered"
    SILENT = "silent"  # finished without a reply by design (an agent has the conversation, forgotten)
    FAILED = "failed"  # given up after every attempt


FINISHED_INBOX = (InboxStatus.ANSWERED, InboxStatus.SILENT, InboxStatus.FAILED)


class OutboxStatus(StrEnum):
    """Where a reply is on its way to the platform."""

    PENDING = "pending"  # not yet accepted by the platform
    DELIVERED = "delivered"
    FAILED = "failed"  # refused for good, or every attempt used


class ReviewStatus(StrEnum):
    """Where an agent's answer is in the review queue (bot/store/review.py)."""

    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"
