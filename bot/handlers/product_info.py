"""A question about a product by name (price, stock, sizes, details), answered from the catalog
(``bot/knowledge/products.py``: fuzzy names, typos, "it" for the product under discussion); out of
stock said plainly, with an alternative."""

from __future__ import annotations

from bot.handlers.base import PERSON, Decision, Draft, Handler, Outcome, Situation
from bot.knowledge.products import ProductAnswer, ProductAnswerKind, ProductQuestions, names_its_kind
from bot.types import Recommendation, Source

MIN_MATCH_CONFIDENCE = 0.9
CATALOG_SOURCE = Source(title="Product catalog", section="", path="knowledge/catalog.csv", score=1.0)


class ProductInfo(Handler):
    name = "product_info"
    ask_feedback = True
    _questions: ProductQuestions | None = None
    _built_from: object = None

    def _shelf(self) -> ProductQuestions | None:
        catalog, advisor = self.services.catalog, self.services.advisor
        if catalog is None:
            return None
        # Rebuilt when an ingest replaced the catalog (runtime.ingest assigns a new products dict).
        if self._questions is None or self._built_from is not catalog.products:
            vectors = (advisor.vectors.skus, advisor.vectors.matrix) if advisor is not None else None
            self._questions, self._built_from = ProductQuestions(catalog, vectors), catalog.products
        return self._questions

    def _answer(self, situation: Situation) -> ProductAnswer | None:
        shelf = self._shelf()
        if shelf is None or situation.understanding.command is not None:
            return None
        question = shelf.match(situation.text, situation.understanding.embedding,
                               current_sku=situation.state.product_sku or None)
        # A loose fuzzy match ("weather" ~ "water") is not a product question: below this the knowledge
        # pages and the fallback decide.
        if question is None:
            return None
        if question.found:
            # "ridgback trail runing shoes" (several words) may be looser than one word alike another.
            loose = MIN_MATCH_CONFIDENCE - (0.2 if len(question.mention.split()) >= 2 else 0.0)
            if question.confidence < loose:
                return None
            best = situation.best
            # "do you do price adjustments?" is the refunds page's, not the Ridgeline Adjustable Footrest's: a
            # page that answers confidently wins over a product the customer named by no word of its kind.
            if (best is not None and best.confident and best.similarity >= self.services.thresholds.answer_min_similarity
                    and not names_its_kind(question)):
                return None
            answer = shelf.answer(question)
            # "does the kettle come with a warranty?": what the listing does not say, a policy page may.
            if answer.unsure and best is not None and best.similarity >= self.services.thresholds.clarify_min_similarity:
                return None
            return answer
        # Not in the catalog: say so only when the knowledge pages do not answer the question instead
        # ("how much does shipping cost?" names no product).
        best = situation.best
        if best is not None and best.similarity >= self.services.thresholds.clarify_min_similarity:
            return None
        return shelf.answer(question)

    def decide(self, situation: Situation) -> Decision | None:
        if situation.context.order_named_now:
            return None  # "my desk lamp": about the customer's order, not the catalog
        answer = self._answer(situation)
        if answer is None:
            return None
        return self.decision(f"catalog question ({answer.kind.value}, {answer.asked.value})", product=answer.sku or "")

    def compose(self, situation: Situation, decision: Decision, outcome: Outcome, fill: dict[str, str]) -> Draft:
        answer = self._answer(situation)
        if answer is None:
            return Draft("I couldn't find that product in our catalog.", sources=(CATALOG_SOURCE,))
        if answer.kind is ProductAnswerKind.NOT_FOUND:
            return Draft(f"Sorry{fill['name_suffix']}, we don't carry that. {answer.text}", sources=(CATALOG_SOURCE,))
        # The product asked about (or the in-stock alternative) as a card the platform can show.
        shown = [p for p in answer.products if p.in_stock] or ([answer.alternative] if answer.alternative else [])
        cards = tuple(Recommendation(p.sku, p.name, p.price, "what you asked about", 1.0, 1.0) for p in shown[:3])
        # The listing does not say: a person from the team can find out.
        offer = (PERSON,) if answer.unsure else ()
        return Draft(answer.text, sources=(CATALOG_SOURCE,), recommendations=cards, suggestions=offer)
