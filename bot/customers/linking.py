"""Verified identity linking: a one-time code issued on one platform, entered on another.

Accounts are merged only on proof (the code), never on a display name or a user's
claim. Each merge leaves an audit record.

A code proves only that whoever enters it could read it, so it is guarded three ways:
the reply carrying it is private (see compose); it is redeemable only on another platform or
workspace than the one it was issued in (a member of a shared channel who saw it there cannot
use it there, and seeing it presented there burns it); and each presenting account has a
few tries per quarter hour, counted in SQL before the code is looked up, then is locked out.
"""

from __future__ import annotations

import hashlib
import logging
import math
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.exc import IntegrityError
from sqlmodel import and_, col, delete, or_, select, update

from bot.store.database import Database
from bot.store.memory import CustomerMemory
from bot.store.tables import (
    Customer,
    FeedbackRecord,
    ForgetRequest,
    Handoff,
    Identity,
    IdentityLink,
    LinkAttempt,
    LinkCode,
    LinkCodeOrigin,
    Order,
    ProductEvent,
    Ticket,
    Turn,
    as_utc,
    utcnow,
)
from bot.store.vectors import VectorStore

CODE_TTL = timedelta(minutes=10)
MAX_MISSES = 5  # codes looked up per presenting account within MISS_WINDOW
MISS_WINDOW = timedelta(minutes=15)
LOCKOUT = timedelta(minutes=15)
_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O or 1/I: codes are read and typed by people
_MOVABLE = (Identity, Turn, Order, ProductEvent, Ticket, FeedbackRecord, Handoff, IdentityLink)
log = logging.getLogger("rapport.linking")


def _normalise(code: str) -> str:
    return "".join(ch for ch in code.upper() if ch.isalnum())


def _digest(code: str) -> str:
    return hashlib.sha256(_normalise(code).encode()).hexdigest()


def account_digest(platform: str, workspace: str, platform_user_id: str) -> str:
    """How attempt counters and logs name a platform account: a digest, never the user id."""
    return hashlib.sha256("\x1f".join((platform, workspace, platform_user_id)).encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class Presenter:
    """The platform account entering a code, and the customer it belongs to now."""

    customer_id: int
    platform: str
    workspace: str
    platform_user_id: str

    @property
    def account(self) -> str:
        return account_digest(self.platform, self.workspace, self.platform_user_id)


@dataclass(frozen=True, slots=True)
class LinkResult:
    linked: bool
    customer_id: int | None
    reason: str  # why not, when not linked


class IdentityLinker:
    def __init__(self, database: Database, vectors: VectorStore, memory: CustomerMemory) -> None:
        self._db = database
        self._vectors = vectors
        self._memory = memory

    async def issue(self, customer_id: int, platform: str, workspace: str) -> str:
        """A fresh one-time code for this customer, valid for ten minutes on any other platform or
        workspace than ``platform``/``workspace`` (where it is being sent). Only its hash is stored."""
        raw = "".join(secrets.choice(_ALPHABET) for _ in range(8))
        async with self._db.session() as session:
            code = LinkCode(code_hash=_digest(raw), customer_id=customer_id, expires_at=utcnow() + CODE_TTL)
            session.add(code)
            await session.flush()
            assert code.id is not None
            session.add(LinkCodeOrigin(link_code_id=code.id, platform=platform, workspace=workspace))
            await session.commit()
        return f"{raw[:4]}-{raw[4:]}"

    async def redeem(self, code: str, presenter: Presenter) -> LinkResult:
        """Merge the customer who entered ``code`` with the one it was issued to.

        An account past its tries is answered without the code being looked up at all.
        """
        if len(_normalise(code)) != 8:
            return LinkResult(False, None, "that doesn't look like a link code (8 letters and digits, e.g. ABCD-2345)")
        locked_until = await self._take_attempt(presenter.account)
        if locked_until is not None:
            minutes = max(1, math.ceil((locked_until - utcnow()).total_seconds() / 60))
            return LinkResult(False, None, f"too many attempts; try again in {minutes} minute{'s' * (minutes != 1)}")
        result, missed = await self._redeem(code, presenter)
        if missed:
            await self._missed(presenter)
        else:
            await self._refund(presenter.account, cleared=result.linked)
        return result

    async def _redeem(self, code: str, presenter: Presenter) -> tuple[LinkResult, bool]:
        """The result, and whether it counts as a miss against the presenting account."""
        customer_id = presenter.customer_id
        async with self._db.session() as session:
            link = (await session.exec(select(LinkCode).where(LinkCode.code_hash == _digest(code)).with_for_update())).first()
            if link is None or link.used_at is not None:
                return LinkResult(False, None, "that code is not valid or was already used"), True
            if as_utc(link.expires_at) < utcnow():
                return LinkResult(False, None, "that code has expired; send /link again to get a new one"), True
            origin = await session.get(LinkCodeOrigin, link.id)
            at_origin = origin is not None and (origin.platform, origin.workspace) == (presenter.platform, presenter.workspace)
            if link.customer_id == customer_id:
                if at_origin:
                    return LinkResult(False, customer_id, "enter the code on your other account, not here"), False
                return LinkResult(False, customer_id, "this account is already linked to that one"), False
            if at_origin:
                # Someone else in the workspace the code was sent to has it: it leaked. Burn it.
                await self._spend(session, link)
                await session.commit()
                log.warning("link code presented where it was issued, by another account; code burnt",
                            extra={"customer_id": link.customer_id, "platform": presenter.platform,
                                   "account": presenter.account})
                return LinkResult(False, None, "a code works only on another platform or workspace than the one "
                                               "it was sent to; this one is now void"), True
            keep, drop = await self._survivor(session, link.customer_id, customer_id)
            if keep is None:
                return LinkResult(False, None, "these accounts belong to two different customer records; "
                                               "please ask our team"), False
            # Spend the code with a conditional UPDATE: of two redeemers at once (SQLite has no
            # row lock for the SELECT above), exactly one changes the row and merges.
            if not await self._spend(session, link):
                await session.rollback()
                return LinkResult(False, None, "that code is not valid or was already used"), True
            await self._merge(session, keep, drop, presenter)
            await session.commit()
        await self._memory.reassign(drop, keep)
        return LinkResult(True, keep, ""), False

    async def _spend(self, session: object, link: LinkCode) -> bool:
        spent = await session.exec(  # type: ignore[attr-defined]
            update(LinkCode).where(col(LinkCode.id) == link.id, col(LinkCode.used_at).is_(None))  # type: ignore[call-overload]
            .values(used_at=utcnow())
        )
        return bool(spent.rowcount == 1)

    async def _merge(self, session: object, keep: int, drop: int, presenter: Presenter) -> None:
        for table in _MOVABLE:
            await session.exec(update(table).where(table.customer_id == drop).values(customer_id=keep))  # type: ignore[attr-defined, call-overload]
        await session.exec(update(LinkCode).where(col(LinkCode.customer_id) == drop).values(customer_id=keep))  # type: ignore[attr-defined, call-overload]
        # A pending /forget of the record that disappears is not carried over: it was asked of another record.
        await session.exec(delete(ForgetRequest).where(col(ForgetRequest.customer_id) == drop))  # type: ignore[attr-defined, call-overload]
        session.add(IdentityLink(customer_id=keep, merged_customer_id=drop, platform=presenter.platform,  # type: ignore[attr-defined]
                                 platform_user_id=presenter.platform_user_id, method="one-time-code"))
        dropped = await session.get(Customer, drop)  # type: ignore[attr-defined]
        kept = await session.get(Customer, keep)  # type: ignore[attr-defined]
        assert kept is not None and dropped is not None
        kept.name = kept.name or dropped.name
        kept.email = kept.email or dropped.email
        kept.attributes = {**(dropped.attributes or {}), **(kept.attributes or {})}
        kept.preferences = {**(dropped.preferences or {}), **(kept.preferences or {})}
        session.add(kept)  # type: ignore[attr-defined]
        await session.delete(dropped)  # type: ignore[attr-defined]

    async def _take_attempt(self, account: str) -> datetime | None:
        """Count one attempt for this account before any code is looked up; None when allowed, else
        until when it is locked out. Conditional UPDATEs make it hold across concurrent turns and
        processes: of many attempts at once, at most MAX_MISSES get through."""
        now = utcnow()
        async with self._db.session() as session:
            if await session.get(LinkAttempt, account) is None:
                session.add(LinkAttempt(account=account, misses=0, window_started_at=now))
                try:
                    await session.commit()
                except IntegrityError:  # another attempt of this account created it first
                    await session.rollback()
            # A window that has run out, or a lock-out that is over, starts afresh.
            await session.exec(
                update(LinkAttempt).where(  # type: ignore[call-overload]
                    col(LinkAttempt.account) == account,
                    or_(col(LinkAttempt.locked_until) <= now,
                        and_(col(LinkAttempt.locked_until).is_(None), col(LinkAttempt.window_started_at) < now - MISS_WINDOW)),
                ).values(misses=0, window_started_at=now, locked_until=None)
            )
            taken = await session.exec(
                update(LinkAttempt).where(  # type: ignore[call-overload]
                    col(LinkAttempt.account) == account, col(LinkAttempt.misses) < MAX_MISSES,
                    col(LinkAttempt.locked_until).is_(None),
                ).values(misses=col(LinkAttempt.misses) + 1)
            )
            await session.commit()
            if taken.rowcount == 1:
                return None
            locked_until = (await session.exec(select(LinkAttempt.locked_until).where(LinkAttempt.account == account))).one()
        # All tries taken but the last miss not booked yet: locked all the same.
        return as_utc(locked_until) if locked_until else now + LOCKOUT

    async def _missed(self, presenter: Presenter) -> None:
        """The attempt was a miss: at MAX_MISSES the account is locked out, and that is logged (ids only)."""
        async with self._db.session() as session:
            locked = await session.exec(
                update(LinkAttempt).where(  # type: ignore[call-overload]
                    col(LinkAttempt.account) == presenter.account, col(LinkAttempt.misses) >= MAX_MISSES,
                    col(LinkAttempt.locked_until).is_(None),
                ).values(locked_until=utcnow() + LOCKOUT)
            )
            await session.commit()
        if locked.rowcount == 1:
            log.warning("link code lock-out", extra={"customer_id": presenter.customer_id,
                                                     "platform": presenter.platform, "account": presenter.account})

    async def _refund(self, account: str, cleared: bool) -> None:
        """A real code (not a guess) gives the attempt back; a successful link clears the counter."""
        async with self._db.session() as session:
            if cleared:
                await session.exec(delete(LinkAttempt).where(col(LinkAttempt.account) == account))  # type: ignore[call-overload]
            else:
                await session.exec(
                    update(LinkAttempt).where(col(LinkAttempt.account) == account, col(LinkAttempt.misses) > 0)  # type: ignore[call-overload]
                    .values(misses=col(LinkAttempt.misses) - 1)
                )
            await session.commit()

    async def _survivor(self, session: object, issuer: int, redeemer: int) -> tuple[int | None, int]:
        """Keep the record that came from the customer database (has an external id)."""
        rows = (await session.exec(select(Customer.id, Customer.external_id).where(col(Customer.id).in_([issuer, redeemer])))).all()  # type: ignore[attr-defined]
        external = {pk: ext for pk, ext in rows}
        if external.get(issuer) and external.get(redeemer):
            return None, redeemer
        if external.get(redeemer):
            return redeemer, issuer
        return issuer, redeemer
