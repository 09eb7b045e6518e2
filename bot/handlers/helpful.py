"""👍, /helpful, "that answered it, thanks": the last answer helped. The vote raises that section for
similar questions, for this customer at once and for everyone once others agree."""

from __future__ import annotations

from bot.handlers.base import Decision, Draft, Handler, Outcome, Situation, fmt
from bot.learning.answers import last_answer, rates_last_answer

GLAD = "Glad that helped!"


class Helpful(Handler):
    name = "helpful"
    memorable = False

    def decide(self, situation: Situation) -> Decision | None:
        if not rates_last_answer(situation.text, situation.understanding.vote, +1, situation.context.recent_turns):
            return None
        return self.decision("the last answer helped")

    async def act(self, situation: Situation, decision: Decision) -> Outcome:
        learning, customer = self.services.learning, situation.customer
        answered = last_answer(situation.context.recent_turns)
        if learning is None or answered is None or customer.id is None:
            return Outcome(customer)
        return Outcome(customer, found=await learning.vote(customer.id, answered, +1))

    def compose(self, situation: Situation, decision: Decision, outcome: Outcome, fill: dict[str, str]) -> Draft:
        # Nothing rated (no answer yet): a thumbs-up is thanks all the same.
        return Draft(GLAD if outcome.found is not None else fmt(self.t.thanks, fill))
