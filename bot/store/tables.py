"""SQL tables. Schema changes go through Alembic migrations in ``migrations/versions``."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, Column, DateTime, LargeBinary, UniqueConstraint
from sqlmodel import Field, SQLModel

from bot.store.statuses import HandoffStatus, InboxStatus, OutboxStatus


def utcnow() -> datetime:
    return datetime.now(UTC)


def as_utc(moment: datetime) -> datetime:
    """SQLite hands datetimes back without a zone; everything we store is UTC."""
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _when(**kwargs: Any) -> Any:
    return Field(default_factory=utcnow, sa_column=Column(DateTime(timezone=True), nullable=False, **kwargs))


class Customer(SQLModel, table=True):
    """A person Rapport talks to, whatever platforms they use."""

    id: int | None = Field(default=None, primary_key=True)
    external_id: str | None = Field(default=None, unique=True, index=True, max_length=128)
    name: str = Field(default="", max_length=200)
    email: str | None = Field(default=None, index=True, max_length=320)
    locale: str = Field(default="", max_length=16)
    # Organisation of a Slack Connect user, recorded so staff can see who they serve.
    organisation: str = Field(default="", max_length=200)
    attributes: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    # Facts the customer stated in chat ("I'm vegan", "my dog is called Rex"), kept current: key ->
    # {"value": ..., "said_at": ISO time} (see bot/customers/preferences.py; older rows hold plain strings).
    preferences: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False, server_default="{}"))
    stage: str = Field(default="new", max_length=32)
    created_at: datetime = _when()
    last_seen_at: datetime = _when()

    @property
    def first_name(self) -> str:
        return self.name.split()[0] if self.name.strip() else ""


class Identity(SQLModel, table=True):
    """One platform account of a customer. One customer, many identities."""

    __table_args__ = (UniqueConstraint("platform", "workspace", "platform_user_id", name="uq_identity_account"),)

    id: int | None = Field(default=None, primary_key=True)
    customer_id: int = Field(foreign_key="customer.id", index=True, ondelete="CASCADE")
    platform: str = Field(max_length=32)
    workspace: str = Field(default="", max_length=128)
    platform_user_id: str = Field(max_length=128)
    display_name: str = Field(default="", max_length=200)
    created_at: datetime = _when()


class InboxEntry(SQLModel, table=True):
    """Durable record of every accepted message: stored before the platform is acknowledged, so a
    crash never loses it, and the key to exactly-once replies across restarts and redeliveries.

    ``message_id`` holds a digest of the platform's message id (which embeds channel and user ids),
    and ``payload`` the normalized message only until its turn finishes: after that the inbox keeps
    nothing that identifies anyone.
    """

    __tablename__ = "inbox"
    __table_args__ = (UniqueConstraint("platform", "message_id", name="uq_inbox_message"),)

    id: int | None = Field(default=None, primary_key=True)
    platform: str = Field(max_length=32)
    message_id: str = Field(max_length=200)
    conversation: str = Field(max_length=600, index=True)
    # queued → processing (leased by one process) → answered | silent; failed after too many attempts
    status: str = Field(default=InboxStatus.QUEUED, max_length=16, index=True)  # an InboxStatus
    payload: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    customer_id: int | None = Field(default=None, index=True)
    # When the message was written (platform time): a conversation's turns run in this order.
    sent_at: datetime = _when()
    owner: str = Field(default="", max_length=80)
    lease_until: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True), nullable=True))
    attempts: int = Field(default=0)
    received_at: datetime = _when()
    finished_at: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True), nullable=True))


class OutboxEntry(SQLModel, table=True):
    """A reply waiting to be delivered, written in the same transaction as its turn. It is marked
    delivered only when the platform accepted it; then its body is cleared."""

    __tablename__ = "outbox"

    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(max_length=80, unique=True)  # stable across retries: the reply's delivery_key
    platform: str = Field(max_length=32, index=True)
    conversation: str = Field(default="", max_length=600)  # digest, as in the inbox
    customer_id: int | None = Field(default=None, index=True)
    reply: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    status: str = Field(default=OutboxStatus.PENDING, max_length=16, index=True)  # an OutboxStatus
    attempts: int = Field(default=0)
    next_attempt_at: datetime = _when()
    owner: str = Field(default="", max_length=80)
    lease_until: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True), nullable=True))
    last_error: str = Field(default="", max_length=200)  # an error class or platform code, never a body
    created_at: datetime = _when()
    delivered_at: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True), nullable=True))
    # What a reaction on the delivered message maps back to: the customer message the reply answered and
    # its conversation (kept after the body is cleared), and a digest of the platform's id of the
    # message it was posted as (``message_digest``). Deleted with the row on /forget.
    in_reply_to: str = Field(default="", max_length=200)
    answered_in: str = Field(default="", max_length=600)
    sent_as: str = Field(default="", max_length=40, index=True)


class StreamPlaceholder(SQLModel, table=True):
    """The message a reply's streamed sentences are shown in before the reply is stored, by the reply's
    outbox key: the outbox's send edits it into the final reply. Deleted once the reply is delivered."""

    __tablename__ = "stream_placeholder"

    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(max_length=80, unique=True)  # the reply's delivery_key
    platform: str = Field(max_length=32)
    message: str = Field(max_length=200)  # the platform's id of the placeholder (needed to edit it)
    created_at: datetime = _when()


class Turn(SQLModel, table=True):
    """One message in a conversation: the customer's, the bot's or a human agent's."""

    id: int | None = Field(default=None, primary_key=True)
    customer_id: int = Field(foreign_key="customer.id", index=True, ondelete="CASCADE")
    conversation: str = Field(max_length=600, index=True)
    platform: str = Field(max_length=32)
    role: str = Field(max_length=16)  # a TurnRole
    text: str
    message_id: str = Field(default="", max_length=200)
    sentiment: float | None = None
    action: str = Field(default="", max_length=32)
    sources: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    created_at: datetime = _when(index=True)


class Handoff(SQLModel, table=True):
    """A conversation handed to a person: pending → human → resolved (then the bot again)."""

    id: int | None = Field(default=None, primary_key=True)
    customer_id: int = Field(foreign_key="customer.id", index=True, ondelete="CASCADE")
    conversation: str = Field(max_length=600, index=True)
    status: str = Field(default=HandoffStatus.PENDING, max_length=16)  # a HandoffStatus
    reason: str = Field(default="", max_length=200)
    rule: str = Field(default="", max_length=40)  # which escalation rule fired
    agent: str = Field(default="", max_length=128)
    desk_ref: str = Field(default="", max_length=200)  # e.g. the Slack thread of the summary
    created_at: datetime = _when()
    updated_at: datetime = _when()


class Order(SQLModel, table=True):
    __tablename__ = "orders"  # "order" is an SQL keyword

    id: int | None = Field(default=None, primary_key=True)
    order_id: str = Field(unique=True, index=True, max_length=64)
    customer_id: int = Field(foreign_key="customer.id", index=True, ondelete="CASCADE")
    status: str = Field(max_length=32)
    ordered_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False, index=True))
    shipped_at: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True), nullable=True))
    tracking: str = Field(default="", max_length=100)
    total: float = 0.0


class OrderLine(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    order_pk: int = Field(foreign_key="orders.id", index=True, ondelete="CASCADE")
    sku: str = Field(max_length=64, index=True)
    quantity: int = 1
    unit_price: float = 0.0


class ProductEvent(SQLModel, table=True):
    """Browsing behaviour: a view, search, cart add or wishlist entry."""

    __tablename__ = "product_event"
    __table_args__ = (UniqueConstraint("customer_id", "type", "target", "at", name="uq_product_event"),)

    id: int | None = Field(default=None, primary_key=True)
    customer_id: int = Field(foreign_key="customer.id", index=True, ondelete="CASCADE")
    type: str = Field(max_length=32)
    target: str = Field(max_length=500)  # a SKU, a search phrase or a URL path
    at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))


class Ticket(SQLModel, table=True):
    """A past support ticket from the helpdesk."""

    id: int | None = Field(default=None, primary_key=True)
    ticket_id: str = Field(unique=True, index=True, max_length=64)
    customer_id: int = Field(foreign_key="customer.id", index=True, ondelete="CASCADE")
    subject: str = Field(default="", max_length=300)
    body: str = ""
    resolution: str = ""
    created_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))


class FeedbackRecord(SQLModel, table=True):
    __tablename__ = "feedback"

    id: int | None = Field(default=None, primary_key=True)
    customer_id: int = Field(foreign_key="customer.id", index=True, ondelete="CASCADE")
    conversation: str = Field(max_length=600)
    in_reply_to: str = Field(max_length=200)
    kind: str = Field(max_length=32)
    value: str = Field(default="", max_length=100)
    platform: str = Field(max_length=32)
    feedback_id: str | None = Field(default=None, unique=True, max_length=250)
    created_at: datetime = _when()


class LinkCode(SQLModel, table=True):
    """A one-time code that proves one person holds two platform accounts."""

    __tablename__ = "link_code"

    id: int | None = Field(default=None, primary_key=True)
    code_hash: str = Field(unique=True, max_length=64)
    customer_id: int = Field(foreign_key="customer.id", index=True, ondelete="CASCADE")
    expires_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    used_at: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True), nullable=True))


class IdentityLink(SQLModel, table=True):
    """Audit record of a verified merge of two customers' identities."""

    __tablename__ = "identity_link"

    id: int | None = Field(default=None, primary_key=True)
    customer_id: int = Field(foreign_key="customer.id", index=True, ondelete="CASCADE")
    merged_customer_id: int  # no foreign key: that customer no longer exists after the merge
    platform: str = Field(max_length=32)
    platform_user_id: str = Field(max_length=128)
    method: str = Field(max_length=32)  # one-time-code | email
    created_at: datetime = _when()


class LinkCodeOrigin(SQLModel, table=True):
    """Where a link code was issued (platform and workspace): it is redeemable only elsewhere, so a code
    someone else read in that workspace cannot link their account to the issuer's."""

    __tablename__ = "link_code_origin"

    link_code_id: int = Field(primary_key=True, foreign_key="link_code.id", ondelete="CASCADE")
    platform: str = Field(max_length=32)
    workspace: str = Field(default="", max_length=128)


class LinkAttempt(SQLModel, table=True):
    """Link codes presented by one platform account, for the lock-out after too many misses.

    Keyed by a digest of (platform, workspace, user id), never the id itself: these rows outlive a
    /forget on purpose (forgetting must not reset a lock-out) and then name nobody.
    """

    __tablename__ = "link_attempt"

    account: str = Field(primary_key=True, max_length=64)
    misses: int = 0
    window_started_at: datetime = _when()
    locked_until: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True), nullable=True))


class ForgetRequest(SQLModel, table=True):
    """A customer asked to be forgotten and was warned; a confirmation from any of their conversations
    within the window carries it out (a Slack DM gives every top-level message its own thread)."""

    __tablename__ = "forget_request"

    customer_id: int = Field(primary_key=True, foreign_key="customer.id", ondelete="CASCADE")
    requested_at: datetime = _when()


class ForgottenCustomer(SQLModel, table=True):
    """Tombstone of a forgotten customer id: a memory or turn of that customer still in flight when the
    forget ran is dropped instead of written after the delete. Holds a number and a time, nothing else."""

    __tablename__ = "forgotten_customer"

    customer_id: int = Field(primary_key=True)
    forgotten_at: datetime = _when()


class DialogueStateRow(SQLModel, table=True):
    """What one conversation is about right now — the order, product and topic under discussion, the
    last answer given — and how the bot is doing in the stretch it owns (misses and unhappy messages
    in a row since the last person took over). Read as a frozen ``bot.store.dialogue.DialogueState``."""

    __tablename__ = "dialogue_state"

    conversation: str = Field(primary_key=True, max_length=600)  # the history scope, as Turn.conversation
    customer_id: int = Field(foreign_key="customer.id", index=True, ondelete="CASCADE")
    order_id: str = Field(default="", max_length=64)
    product_sku: str = Field(default="", max_length=64)
    topic: str = Field(default="", max_length=300)  # knowledge section under discussion
    topic_source: str = Field(default="", max_length=300)
    last_action: str = Field(default="", max_length=32)
    misses: int = 0
    negatives: int = 0
    updated_at: datetime = _when()


class AnswerVote(SQLModel, table=True):
    """One customer's 👍 (+1) or 👎 (-1) on one knowledge section they were answered with.

    ``question`` is the float32 unit vector of the question that section answered: votes re-rank the
    section only for questions of similar meaning (bot/learning). It is derived from the customer's
    words, so /forget deletes it with the customer. One row per customer and section: a later vote
    replaces the earlier one, so nobody counts twice.
    """

    __tablename__ = "answer_vote"
    __table_args__ = (UniqueConstraint("customer_id", "source", "chunk", name="uq_answer_vote_section"),)

    id: int | None = Field(default=None, primary_key=True)
    customer_id: int = Field(foreign_key="customer.id", index=True, ondelete="CASCADE")
    source: str = Field(max_length=300)  # the section's page path, as KnowledgeHit.source
    chunk: int = 0
    section: str = Field(default="", max_length=300)
    polarity: int  # +1 helpful, -1 not helpful
    question: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    conversation: str = Field(default="", max_length=600)
    in_reply_to: str = Field(default="", max_length=200)
    created_at: datetime = _when()
    updated_at: datetime = _when(index=True)


class ReviewItem(SQLModel, table=True):
    """An agent's answer to a customer's question, from one resolved handoff, waiting for an admin:
    pending → approved (then a knowledge section, source ``review/<id>``) or rejected.

    ``asked`` is the customer's own words; ``question`` and ``answer`` are what becomes the section
    (the proposal until approved, then as the admin approved or edited them). /forget deletes a
    pending or rejected item, and strips an approved one of ``asked``, the conversation and the customer.
    """

    __tablename__ = "review_item"

    id: int | None = Field(default=None, primary_key=True)
    handoff_id: int = Field(unique=True)  # one candidate per handoff; no foreign key: /forget deletes handoffs
    customer_id: int | None = Field(default=None, foreign_key="customer.id", index=True, ondelete="SET NULL")
    conversation: str = Field(default="", max_length=600)
    status: str = Field(default="pending", max_length=16, index=True)  # a ReviewStatus
    asked: str = ""
    question: str = Field(default="", max_length=300)
    answer: str = ""
    agent: str = Field(default="", max_length=128)
    created_at: datetime = _when()
    decided_at: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True), nullable=True))
