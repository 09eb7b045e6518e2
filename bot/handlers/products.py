"""Products for this customer and this question, with the reason for each; "nothing fits" said honestly."""

from __future__ import annotations

from bot.handlers.answer import overview_for
from bot.handlers.base import Decision, Draft, Handler, Outcome, Situation, fmt


class Products(Handler):
    name = "products"
    ask_feedback = True

    def decide(self, situation: Situation) -> Decision | None:
        understanding, thresholds = situation.understanding, self.services.thresholds
        if understanding.command is not None:
            return None
        best = situation.best
        if understanding.asks_recommendation and situation.no_match_reason and not situation.products:
            if best is not None and best.similarity >= thresholds.answer_min_similarity:
                return None  # "do you have gift cards?": the pages speak of what the catalog does not carry
            if overview_for(situation.text, situation.context.knowledge, thresholds.clarify_min_similarity) is not None:
                return None  # "do you have a loyalty program?": a page is about it, though none of its sections is sure
            # Honest, but the customer still has no help: it counts towards offering a person.
            return self.decision(f"asked for products, none fit ({situation.no_match_reason})", detail="none", miss=True)
        if not situation.products:
            return None
        best_product = max((p.similarity for p in situation.products), default=0.0)
        if understanding.asks_recommendation and (situation.led_by_question or best is None or best_product >= best.similarity
                                                  or best.similarity < thresholds.answer_min_similarity):
            return self.decision(f"asked for a recommendation (catalog match {best_product:.2f})",
                                 product=situation.products[0].sku)
        answers = best is not None and best.similarity >= thresholds.answer_min_similarity and best.similarity >= best_product
        if not answers and best_product >= thresholds.product_min_similarity:
            return self.decision(f"catalog match {best_product:.2f}", product=situation.products[0].sku)
        return None

    def compose(self, situation: Situation, decision: Decision, outcome: Outcome, fill: dict[str, str]) -> Draft:
        if decision.detail == "none":
            reason = situation.no_match_reason
            return Draft(f"I'm sorry{fill['name_suffix']}, {reason[:1].lower() + reason[1:]}, so I'd rather not suggest "
                         "something that doesn't fit. Tell me a bit more about what you need, or ask about another "
                         "kind of product.")
        picks = situation.products
        query_driven = situation.led_by_question or any(
            p.similarity >= self.services.thresholds.product_min_similarity for p in picks)
        lines = [fmt(self.t.product_intro if query_driven else self.t.picks_intro, fill)]
        lines += [f"• {p.name} ({p.sku}) — ${p.price:,.2f}, in stock: {p.reason}" for p in picks]
        return Draft("\n".join(lines), recommendations=tuple(picks))
