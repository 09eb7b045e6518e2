"""/csat 1–5: the customer rates the help they got from a person."""

from __future__ import annotations

from bot.handlers.base import Decision, Draft, Handler, Outcome, Situation, fmt
from bot.types import Feedback, FeedbackKind


class Csat(Handler):
    name = "csat"
    memorable = False

    def decide(self, situation: Situation) -> Decision | None:
        command = situation.understanding.command
        return self.decision("/csat command") if command is not None and command.known and command.name == "csat" else None

    async def act(self, situation: Situation, decision: Decision) -> Outcome:
        inbound, command = situation.inbound, situation.understanding.command
        assert command is not None
        if not (command.argument and command.argument[0] in "12345"):
            return Outcome(situation.customer)
        score = int(command.argument[0])
        await self.services.feedback.record(Feedback(inbound.platform, inbound.conversation, inbound.user_id,
                                                     inbound.message_id, FeedbackKind.CSAT, str(score),
                                                     feedback_id=f"csat:{inbound.message_id}"))
        return Outcome(situation.customer, csat=score)

    def compose(self, situation: Situation, decision: Decision, outcome: Outcome, fill: dict[str, str]) -> Draft:
        return Draft(fmt(self.t.csat_thanks if outcome.csat else self.t.help, fill))
