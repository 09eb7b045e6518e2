"""👎, /unhelpful, "that didn't help": the last answer did not help. The vote lowers that section for
this customer at once (and for everyone once others agree); the reply offers the next-best answers
for the same question and a person."""

from __future__ import annotations

from bot.handlers.base import PERSON, Decision, Draft, Handler, Outcome, Situation, cited, source_of
from bot.learning.answers import last_answer, rates_last_answer
from bot.types import Suggestion

SORRY = "Sorry that didn't help."
NEXT_BEST = "Maybe this answers it instead:"
NOTHING_ELSE = "I don't have another answer for that one. A person from our team can help."
NOTHING_RATED = "Sorry about that. Could you ask again in other words? Or a person from our team can help."
# A next-best section shown in full only when it is at least this close to the question.
ALTERNATIVE_MIN_SIMILARITY = 0.4


class Unhelpful(Handler):
    name = "unhelpful"
    memorable = False

    def decide(self, situation: Situation) -> Decision | None:
        if not rates_last_answer(situation.text, situation.understanding.vote, -1, situation.context.recent_turns):
            return None
        return self.decision("the last answer did not help")

    async def act(self, situation: Situation, decision: Decision) -> Outcome:
        learning, customer = self.services.learning, situation.customer
        if learning is None or customer.id is None:
            return Outcome(customer)
        command = situation.understanding.command
        # A 👎 click names the message whose answer it rates (an older one, maybe); else the latest answer.
        answered = (command is not None and command.argument and await learning.answered(customer.id, command.argument)
                    or last_answer(situation.context.recent_turns))
        if answered is None:
            return Outcome(customer)
        rejected = await learning.vote(customer.id, answered, -1)
        others = await learning.alternatives(customer.id, answered, rejected)
        return Outcome(customer, found=rejected,
                       alternatives=tuple(h for h in others if h.similarity >= ALTERNATIVE_MIN_SIMILARITY))

    def compose(self, situation: Situation, decision: Decision, outcome: Outcome, fill: dict[str, str]) -> Draft:
        if outcome.found is None:
            return Draft(NOTHING_RATED, suggestions=(PERSON,))
        if not outcome.alternatives:
            return Draft(f"{SORRY} {NOTHING_ELSE}", suggestions=(PERSON,))
        best, *more = outcome.alternatives
        # The rest as buttons: a click asks that section's title, which the search now ranks first.
        titles = tuple(Suggestion(h.section, h.section) for h in more if h.section and h.section != best.section)
        return Draft(f"{SORRY} {NEXT_BEST}\n\n{cited(best)}", sources=(source_of(best),),
                     suggestions=(*titles[:1], PERSON))
