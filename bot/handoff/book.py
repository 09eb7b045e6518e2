"""The handoff state machine in SQL: bot → pending → human → resolved → bot.

Every transition is one conditional UPDATE, so two agents claiming at once, a
resolve racing a reply, or a restart in between can never leave two owners or lose
the state: the database decides, exactly once.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlmodel import col, select, update

from bot.store.database import Database
from bot.store.statuses import OPEN_HANDOFF, HandoffStatus
from bot.store.tables import Handoff, utcnow

OPEN = OPEN_HANDOFF


@dataclass(frozen=True, slots=True)
class Transition:
    ok: bool
    handoff: Handoff | None
    reason: str = ""  # why not, for the agent


class HandoffBook:
    def __init__(self, database: Database) -> None:
        self._db = database

    async def get(self, handoff_id: int) -> Handoff | None:
        async with self._db.session() as session:
            return await session.get(Handoff, handoff_id)

    async def by_desk_ref(self, desk_ref: str) -> Handoff | None:
        async with self._db.session() as session:
            return (await session.exec(select(Handoff).where(Handoff.desk_ref == desk_ref))).first()

    async def open_for(self, conversation: str) -> Handoff | None:
        async with self._db.session() as session:
            return (
                await session.exec(
                    select(Handoff).where(Handoff.conversation == conversation, col(Handoff.status).in_(OPEN))
                )
            ).first()

    async def pending(self) -> list[Handoff]:
        async with self._db.session() as session:
            return list((await session.exec(select(Handoff).where(col(Handoff.status).in_(OPEN)).order_by(col(Handoff.id)))).all())

    async def set_desk_ref(self, handoff_id: int, desk_ref: str) -> None:
        async with self._db.session() as session:
            await session.exec(update(Handoff).where(col(Handoff.id) == handoff_id).values(desk_ref=desk_ref))  # type: ignore[call-overload]
            await session.commit()

    async def claim(self, handoff_id: int, agent: str) -> Transition:
        """pending → human, for exactly one agent. The same agent claiming again is fine."""
        return await self._move(handoff_id, (HandoffStatus.PENDING,), HandoffStatus.HUMAN, agent,
                                also_ok_if_owner=agent)

    async def resolve(self, handoff_id: int, agent: str) -> Transition:
        """pending/human → resolved: the bot takes the conversation back."""
        return await self._move(handoff_id, OPEN, HandoffStatus.RESOLVED, agent)

    async def _move(
        self, handoff_id: int, from_states: tuple[HandoffStatus, ...], to_state: HandoffStatus, agent: str, also_ok_if_owner: str = ""
    ) -> Transition:
        async with self._db.session() as session:
            result = await session.exec(
                update(Handoff)  # type: ignore[call-overload]
                .where(col(Handoff.id) == handoff_id, col(Handoff.status).in_(from_states))
                .values(status=to_state, agent=agent, updated_at=utcnow())
            )
            await session.commit()
            handoff = await session.get(Handoff, handoff_id)
        if result.rowcount == 1:
            return Transition(True, handoff)
        if handoff is None:
            return Transition(False, None, f"there is no handoff #{handoff_id}")
        if also_ok_if_owner and handoff.status == HandoffStatus.HUMAN and handoff.agent == also_ok_if_owner:
            return Transition(True, handoff)
        owner = f" by {handoff.agent}" if handoff.agent else ""
        return Transition(False, handoff, f"handoff #{handoff_id} is already {handoff.status}{owner}")
