"""A product safety report (swelling, smoke, overheating, a burning smell, burns, sparks): the safety
guidance from the knowledge pages, and a person at once, as the internal escalation playbook says."""

from __future__ import annotations

import re

from bot.embedder import embed_async
from bot.handlers.base import ORDER_SOURCE, Decision, Draft, Handler, Outcome, Services, Situation, fmt, plain, source_of
from bot.handoff.rules import EscalationRule
from bot.types import Tone

SAFETY_PAGE = "knowledge/pages/warranty.md"
SAFETY_QUESTION = "What should I do if a product overheats, smokes or has a swollen battery?"


class Safety(Handler):
    name = "safety"
    memorable = True

    def __init__(self, services: Services) -> None:
        super().__init__(services)
        phrases = sorted(services.handoff.safety_phrases, key=len, reverse=True)
        self._pattern = re.compile("|".join(rf"\b{re.escape(p)}\b" for p in phrases), re.I) if phrases else None

    def decide(self, situation: Situation) -> Decision | None:
        if self._pattern is None or situation.understanding.command is not None:
            return None
        found = self._pattern.search(situation.text)
        if not found:
            return None
        return self.decision(f"product safety report ({found.group(0).lower()})", rule=EscalationRule.SAFETY, opens_handoff=True,
                             order=situation.context.order, detail=found.group(0).lower())

    async def act(self, situation: Situation, decision: Decision) -> Outcome:
        knowledge, embedder = self.services.knowledge, self.services.embedder
        found = None
        if knowledge is not None and embedder is not None:
            (vector,) = await embed_async(embedder, [SAFETY_QUESTION])
            hits = await knowledge.search(vector, limit=5)
            found = next((h for h in hits if h.source == SAFETY_PAGE and h.section == SAFETY_QUESTION), None)
            found = found or next((h for h in hits if h.source == SAFETY_PAGE), None)
        return Outcome(situation.customer, found=found)

    def compose(self, situation: Situation, decision: Decision, outcome: Outcome, fill: dict[str, str]) -> Draft:
        guidance = plain(outcome.found.text) if outcome.found else ""
        text = fmt(self.t.safety, fill, guidance=guidance).rstrip()
        if decision.order is not None:
            text += f"\n\n(About your order {decision.order.order_id}: {decision.order.item_names}.)"
        sources = (source_of(outcome.found),) if outcome.found else ()
        if decision.order is not None:
            sources += (ORDER_SOURCE,)
        return Draft(text, sources=sources, tone=Tone.EMPATHETIC)
