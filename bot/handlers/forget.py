"""/forget: warn and ask for confirmation; delete everything once confirmed (from any conversation of
the customer within the window)."""

from __future__ import annotations

from datetime import timedelta

from bot.handlers.base import Decision, Draft, Handler, Outcome, Situation, fmt
from bot.types import Suggestion

FORGET_CONFIRM_WINDOW = timedelta(minutes=10)


class Forget(Handler):
    name = "forget"
    memorable = False
    private = True

    def decide(self, situation: Situation) -> Decision | None:
        command = situation.understanding.command
        return self.decision("/forget command") if command is not None and command.known and command.name == "forget" else None

    async def act(self, situation: Situation, decision: Decision) -> Outcome:
        customer, command, privacy = situation.customer, situation.understanding.command, self.services.privacy
        assert customer.id is not None and command is not None
        if command.argument.lower() == "confirm":
            # Asked for in any conversation of this customer: a Slack DM makes each message its own thread.
            if not await privacy.forget_requested(customer.id, FORGET_CONFIRM_WINDOW):
                await privacy.request_forget(customer.id)  # the reply is the warning: confirm again
                return Outcome(customer, forget_pending=True)
            await privacy.forget(customer.id)
            return Outcome(None, forgotten=True)
        await privacy.request_forget(customer.id)
        return Outcome(customer, forget_pending=True)

    def compose(self, situation: Situation, decision: Decision, outcome: Outcome, fill: dict[str, str]) -> Draft:
        if outcome.forgotten:
            return Draft(fmt(self.t.forget_done, fill))
        return Draft(fmt(self.t.forget_ask, fill), suggestions=(Suggestion("Yes, delete everything", "/forget confirm"),))
