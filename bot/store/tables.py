"""SQL tables. Schema changes go through Alembic migrations in ``migrations/versions``."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, Column, DateTime, UniqueConstraint
from sqlmodel import Field, SQLModel


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
    """Durable record of every accepted message: the key to exactly-once replies across restarts."""

    __tablename__ = "inbox"
    __table_args__ = (UniqueConstraint("platform", "message_id", name="uq_inbox_message"),)

    id: int | None = Field(default=None, primary_key=True)
    platform: str = Field(max_length=32)
    message_id: str = Field(max_length=200)
    conversation: str = Field(max_length=600, index=True)
    status: str = Field(default="processing", max_length=16)  # processing | answered | silent
    received_at: datetime = _when()
    finished_at: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True), nullable=True))


class Turn(SQLModel, table=True):
    """One message in a conversation: the customer's, the bot's or a human agent's."""

    id: int | None = Field(default=None, primary_key=True)
    customer_id: int = Field(foreign_key="customer.id", index=True, ondelete="CASCADE")
    conversation: str = Field(max_length=600, index=True)
    platform: str = Field(max_length=32)
    role: str = Field(max_length=16)  # customer | bot | agent
    text: str
    message_id: str = Field(default="", max_length=200)
    sentiment: float | None = None
    action: str = Field(default="", max_length=32)
    sources: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    created_at: datetime = _when(index=True)


class Handoff(SQLModel, table=True):
    """A request for a human; the desk that serves it lives in the handoff flow."""

    id: int | None = Field(default=None, primary_key=True)
    customer_id: int = Field(foreign_key="customer.id", index=True, ondelete="CASCADE")
    conversation: str = Field(max_length=600, index=True)
    status: str = Field(default="pending", max_length=16)  # pending | human | resolved
    reason: str = Field(default="", max_length=200)
    created_at: datetime = _when()
    updated_at: datetime = _when()
