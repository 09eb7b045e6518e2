"""An upset customer whose message matches no answer: empathy and a way forward (what we can do, and a
person offered), never a bare "I don't know"."""

from __future__ import annotations

from bot.handlers.base import PERSON, Decision, Draft, Handler, Outcome, Situation, fmt
from bot.types import SentimentLabel, Suggestion, Tone


class Upset(Handler):
    name = "upset"
    miss = True  # nothing answered it: it counts towards bringing in a person

    def decide(self, situation: Situation) -> Decision | None:
        sentiment = situation.understanding.sentiment
        upset = sentiment.label is SentimentLabel.NEGATIVE and sentiment.score <= self.services.thresholds.negative_sentiment
        if situation.understanding.command is not None or not upset:
            return None
        return self.decision(f"upset ({sentiment.score:.2f}) and no answer matched", offer_person=True)

    def compose(self, situation: Situation, decision: Decision, outcome: Outcome, fill: dict[str, str]) -> Draft:
        ways = [PERSON]
        if situation.context.insights.recent_orders:
            ways.append(Suggestion("Check my order", "where is my order?"))
        ways.append(Suggestion("Start a return", "how do I start a return?"))
        return Draft(fmt(self.t.upset, fill), suggestions=tuple(ways), tone=Tone.EMPATHETIC)
