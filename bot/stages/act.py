"""6½. act: the decided handler changes what its action changes (link, export, forget, a rating, a
look-up) before the reply is written, so the reply reports what really happened."""

from __future__ import annotations

from bot.customers.linking import IdentityLinker
from bot.handlers.base import Decision, Outcome, Registry, Situation

__all__ = ["Act", "Outcome"]


class Act:
    def __init__(self, registry: Registry, linker: IdentityLinker) -> None:
        self._registry = registry
        self._linker = linker  # the account linker the link handler uses (tests issue codes through it)

    async def __call__(self, situation: Situation, decision: Decision) -> Outcome:
        return await self._registry.get(decision.action).act(situation, decision)
