"""A question about a product by name (price, stock, sizes, details), answered from the catalog module;
out of stock said plainly, with an alternative."""

from __future__ import annotations

import re

from bot.handlers.base import Decision, Draft, Handler, Outcome, Situation
from bot.types import Source

CATALOG_SOURCE = Source(title="Product catalog", section="", path="knowledge/catalog.csv", score=1.0)
_ASKS = re.compile(r"\b(how much|price|cost|in stock|stock|available|availability|sizes?|colou?rs?|dimensions|"
                   r"weight|how (big|heavy|long|wide)|tell me (more )?about|details|specs?|made of|does (it|the)|is (it|the))\b",
                   re.I)


class ProductInfo(Handler):
    name = "product_info"
    ask_feedback = True

    def decide(self, situation: Situation) -> Decision | None:
        products = self.services.products
        if products is None or situation.understanding.command is not None or not _ASKS.search(situation.text):
            return None
        answer = products.answer(situation.text)
        if answer is None and situation.state.product_sku and re.search(r"\b(it|that|this|one)\b", situation.text, re.I):
            # A follow-up about the product under discussion ("is it in stock?").
            name = self.services.catalog.name(situation.state.product_sku) if self.services.catalog else ""
            answer = products.answer(f"{situation.text} {name}") if name else None
        if answer is None:
            return None
        return self.decision(f"catalog question about {answer.sku}", product=answer.sku)

    async def act(self, situation: Situation, decision: Decision) -> Outcome:
        assert self.services.products is not None
        answer = self.services.products.answer(situation.text)
        if answer is None and self.services.catalog is not None:
            answer = self.services.products.answer(f"{situation.text} {self.services.catalog.name(decision.product)}")
        return Outcome(situation.customer, product=answer)

    def compose(self, situation: Situation, decision: Decision, outcome: Outcome, fill: dict[str, str]) -> Draft:
        answer = outcome.product
        if answer is None:
            return Draft("I couldn't find that product in our catalog.")
        return Draft(answer.text, sources=(CATALOG_SOURCE,), recommendations=answer.alternatives)
