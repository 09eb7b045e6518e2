"""/export: everything stored about the customer, as a JSON file for their eyes only."""

from __future__ import annotations

import json

from bot.handlers.base import Decision, Draft, Handler, Outcome, Situation, fmt
from bot.types import OutboundFile


class Export(Handler):
    name = "export"
    memorable = False
    private = True

    def decide(self, situation: Situation) -> Decision | None:
        command = situation.understanding.command
        return self.decision("/export command") if command is not None and command.known and command.name == "export" else None

    async def act(self, situation: Situation, decision: Decision) -> Outcome:
        customer = situation.customer
        assert customer.id is not None
        data = await self.services.privacy.export(customer.id)
        content = json.dumps(data, indent=2, ensure_ascii=False, default=str)
        return Outcome(customer, export=OutboundFile(f"rapport-export-{customer.id}.json", content))

    def compose(self, situation: Situation, decision: Decision, outcome: Outcome, fill: dict[str, str]) -> Draft:
        return Draft(fmt(self.t.export_ready, fill), files=(outcome.export,) if outcome.export else ())
