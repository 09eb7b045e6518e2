"""A message in another language: say, in that language, that answers are available in English, give
the English answer when one matches well, and offer a person."""

from __future__ import annotations

from bot.handlers.base import PERSON, Decision, Draft, Handler, Outcome, Situation, cited, source_of
from bot.nlp.language import phrases_for


class OtherLanguage(Handler):
    name = "other_language"
    ask_feedback = True

    def decide(self, situation: Situation) -> Decision | None:
        language = situation.understanding.language
        if language.is_english or situation.understanding.command is not None:
            return None
        best = situation.best
        good = best is not None and best.similarity >= self.services.thresholds.answer_min_similarity and (
            getattr(best, "confident", True))
        return self.decision(f"written in {language.code} ({language.confidence:.2f})", detail=language.code,
                             answer=best if good else None)

    def compose(self, situation: Situation, decision: Decision, outcome: Outcome, fill: dict[str, str]) -> Draft:
        phrases = phrases_for(decision.detail)
        if decision.answer is not None:
            lead = phrases.english_answer if phrases else "Our answers are available in English; here is what I found:"
            text = f"{lead}\n\n{cited(decision.answer)}"
            sources = (source_of(decision.answer),)
        else:
            text = phrases.english_only if phrases else "Our answers are available in English only."
            sources = ()
        offer = phrases.offer_person if phrases else "Would you like me to bring in a person from our team?"
        return Draft(f"{text}\n\n{offer}", sources=sources, suggestions=(PERSON,))
