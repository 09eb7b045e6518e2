"""The typed boundary between platform adapters and the engine.

Adapters turn a platform payload into an :class:`Inbound`; the engine answers with a
:class:`Reply`. Nothing platform-specific crosses this line except the opaque ``raw``
payload, which the engine never reads.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any


@dataclass(frozen=True, slots=True)
class ConversationKey:
    """Where a conversation lives: platform, workspace (team or guild), channel, thread."""

    platform: str
    workspace: str
    channel: str
    thread: str = ""

    def __str__(self) -> str:
        return ":".join((self.platform, self.workspace, self.channel, self.thread))

    def scope(self, granularity: str, user_id: str) -> str:
        """What counts as one conversation's history: a thread (default), a whole channel, or
        everything one user says in a workspace, whatever channel or thread it is in."""
        match granularity:
            case "channel":
                return ":".join((self.platform, self.workspace, self.channel, ""))
            case "user":
                return ":".join((self.platform, self.workspace, f"user-{user_id}", ""))
            case _:
                return str(self)

    @classmethod
    def parse(cls, text: str) -> ConversationKey:
        platform, workspace, channel, thread = (text.split(":", 3) + ["", "", ""])[:4]
        return cls(platform, workspace, channel, thread)


@dataclass(frozen=True, slots=True)
class Attachment:
    name: str
    mime_type: str = "application/octet-stream"
    url: str = ""
    size: int = 0


def clean_text(text: str) -> str:
    """Text as every store and model can take it: NUL bytes (PostgreSQL refuses them) and lone
    surrogates (no UTF-8 encoder takes them) removed. Applied to every string an Inbound carries."""
    if "\x00" in text:
        text = text.replace("\x00", "")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        text = _SURROGATES.sub("", text)
    return text


_SURROGATES = re.compile("[\ud800-\udfff]")


@dataclass(frozen=True, slots=True)
class Inbound:
    """One customer message, normalized from any platform. Text fields are cleaned on creation
    (:func:`clean_text`), so no adapter can hand the engine a NUL byte or a lone surrogate."""

    platform: str
    conversation: ConversationKey
    user_id: str
    text: str
    message_id: str
    display_name: str = ""
    received_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    attachments: tuple[Attachment, ...] = ()
    # A Slack Connect user from another organisation: a customer, never staff.
    external: bool = False
    external_org: str = ""
    # Sent as a slash command (Slack's /link): the answer goes only to this user (ephemeral).
    private: bool = False
    raw: Mapping[str, Any] | None = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        for name in ("user_id", "text", "message_id", "display_name", "external_org"):
            value = getattr(self, name)
            cleaned = clean_text(value)
            if cleaned is not value:
                object.__setattr__(self, name, cleaned)


class Tone(StrEnum):
    NEUTRAL = "neutral"
    WARM = "warm"
    EMPATHETIC = "empathetic"


class SentimentLabel(StrEnum):
    NEGATIVE = "negative"
    NEUTRAL = "neutral"
    POSITIVE = "positive"


@dataclass(frozen=True, slots=True)
class Sentiment:
    label: SentimentLabel
    score: float  # in [-1, 1]
    confidence: float  # in [0, 1]


@dataclass(frozen=True, slots=True)
class Source:
    """A knowledge page section a reply was grounded in."""

    title: str
    section: str
    path: str
    score: float


@dataclass(frozen=True, slots=True)
class Recommendation:
    sku: str
    name: str
    price: float
    reason: str  # one line from the customer's own data: "similar to the trail shoes you bought"
    score: float
    similarity: float = 0.0  # to the customer's question; 0 for suggestions not driven by a question


@dataclass(frozen=True, slots=True)
class Suggestion:
    """A follow-up the customer can pick with one click (a button where the platform has them)."""

    label: str
    text: str


@dataclass(frozen=True, slots=True)
class HandoffNotice:
    reason: str
    status: str


@dataclass(frozen=True, slots=True)
class OutboundFile:
    """A file sent with a reply (e.g. a data export); platforms without uploads show it inline."""

    name: str
    content: str
    mime_type: str = "application/json"


@dataclass(frozen=True, slots=True)
class Reply:
    conversation: ConversationKey
    in_reply_to: str
    text: str
    sources: tuple[Source, ...] = ()
    suggestions: tuple[Suggestion, ...] = ()
    recommendations: tuple[Recommendation, ...] = ()
    tone: Tone = Tone.NEUTRAL
    sentiment: Sentiment | None = None
    handoff: HandoffNotice | None = None
    # Whether the platform should offer 👍/👎 buttons for this reply.
    ask_feedback: bool = True
    files: tuple[OutboundFile, ...] = ()
    intent: str = ""  # the flow the message was routed to ("oos": none fitted well enough)
    intent_confidence: float = 0.0
    # For the asker's eyes only (a link code, an export): a DM or an ephemeral message to ``recipient``,
    # never a post others in a shared channel or group can read.
    private: bool = False
    recipient: str = ""  # platform user id of the person the reply is for
    # The outbox entry this reply was stored as: stable across retries, so a platform that takes an
    # idempotency key (Discord's enforced nonce) never posts it twice.
    delivery_key: str = ""
    # An earlier attempt to send this reply was cut off in another process (it died mid-send): the
    # platform may have it already. An adapter that can look (Slack's message metadata) checks first.
    maybe_sent: bool = False
    # The platform's id of a message already posted for this reply (the placeholder its streamed text
    # was shown in): the send edits that message into the reply instead of posting another one.
    edit_message: str = ""


MessageHandler = Callable[[Inbound], Awaitable[Reply | None]]


class FeedbackKind(StrEnum):
    HELPFUL = "helpful"  # 👍 on a reply
    NOT_HELPFUL = "not_helpful"  # 👎 on a reply
    RECOMMENDATION_CLICKED = "recommendation_clicked"
    RECOMMENDATION_REJECTED = "recommendation_rejected"
    CSAT = "csat"  # value: "1".."5"


@dataclass(frozen=True, slots=True)
class Feedback:
    """A reaction to one of the bot's replies: a button, an emoji reaction or a CSAT score."""

    platform: str
    conversation: ConversationKey
    user_id: str
    in_reply_to: str  # message id of the customer message the reply answered
    kind: FeedbackKind
    value: str = ""  # a SKU for recommendation feedback, a score for CSAT
    feedback_id: str = ""  # the platform's id for this click, so a redelivered click counts once
    # An emoji reaction names the bot's message it was put on (the platform's id, as the sender returned
    # it), not the customer message it answers: the delivery fills in ``in_reply_to`` and the
    # conversation from the outbox, and drops a reaction on any other message.
    reacted_to: str = ""
    received_at: datetime = field(default_factory=lambda: datetime.now(UTC))


FeedbackHandler = Callable[[Feedback], Awaitable[None]]
