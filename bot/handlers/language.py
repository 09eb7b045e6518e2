"""A message in another language: say, in that language, that answers are available in English, give
the English answer when one matches well — for "where is my order?" the order's own status — and offer
a person."""

from __future__ import annotations

from bot.handlers.base import ORDER_SOURCE, PERSON, Decision, Draft, Handler, Outcome, Situation, cited, source_of
from bot.customers.orders import numbers_not_theirs
from bot.handlers.order_status import default_order, status_text
from bot.nlp.language import phrases_for


class OtherLanguage(Handler):
    name = "other_language"
    ask_feedback = True

    def decide(self, situation: Situation) -> Decision | None:
        language = situation.understanding.language
        if language.is_english or situation.understanding.command is not None:
            return None
        phrases = phrases_for(language.code)
        if _names_an_order_not_theirs(situation):
            return None  # "¿dónde está mi pedido 1042?": the order-not-found answer says so, whatever the language
        if phrases is not None and phrases.asks_status(situation.text):
            order = default_order(situation)
            if order is not None:
                return self.decision(f"asked for an order's status in {language.code}", detail=language.code,
                                     order=order)
        best = situation.best
        good = best is not None and best.similarity >= self.services.thresholds.answer_min_similarity and (
            getattr(best, "confident", True))
        return self.decision(f"written in {language.code} ({language.confidence:.2f})", detail=language.code,
                             answer=best if good else None)

    def compose(self, situation: Situation, decision: Decision, outcome: Outcome, fill: dict[str, str]) -> Draft:
        phrases = phrases_for(decision.detail)
        if decision.order is not None and phrases is not None:
            text = f"{phrases.english_answer}\n\n{status_text(decision.order, self.t)}\n\n{phrases.offer_person}"
            return Draft(text, sources=(ORDER_SOURCE,), suggestions=(PERSON,))
        if decision.answer is not None:
            lead = phrases.english_answer if phrases else "Our answers are available in English; here is what I found:"
            text = f"{lead}\n\n{cited(decision.answer)}"
            sources = (source_of(decision.answer),)
        else:
            text = phrases.english_only if phrases else "Our answers are available in English only."
            sources = ()
        offer = phrases.offer_person if phrases else "Would you like me to bring in a person from our team?"
        return Draft(f"{text}\n\n{offer}", sources=sources, suggestions=(PERSON,))


def _names_an_order_not_theirs(situation: Situation) -> bool:
    insights = situation.context.insights
    return bool(numbers_not_theirs(situation.text, insights.orders or insights.recent_orders))
