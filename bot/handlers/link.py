"""/link: issue a one-time code, or redeem one presented from another platform account."""

from __future__ import annotations

from bot.customers.linking import Presenter
from bot.intents import IntentLabel
from bot.handlers.base import Decision, Draft, Handler, Outcome, Situation, fmt


class Link(Handler):
    name = "link"
    memorable = False
    private = True
    secret = True  # the code is never stored or recalled

    def decide(self, situation: Situation) -> Decision | None:
        command = situation.understanding.command
        if command is not None and command.known and (command.name == "link" or (command.name == "start" and command.argument)):
            return self.decision(f"/{command.name} command")
        if command is None and situation.understanding.intent.label == IntentLabel.LINK_ACCOUNT:
            return self.decision(f"intent link_account ({situation.understanding.intent.confidence:.2f})")
        return None

    async def act(self, situation: Situation, decision: Decision) -> Outcome:
        customer, inbound, command = situation.customer, situation.inbound, situation.understanding.command
        assert customer.id is not None
        if command is not None and command.argument:
            presenter = Presenter(customer.id, inbound.platform, inbound.conversation.workspace, inbound.user_id)
            result = await self.services.linker.redeem(command.argument, presenter)
            if not result.linked:
                return Outcome(customer, link_problem=result.reason)
            merged = await self.services.directory.get(result.customer_id) if result.customer_id else None
            return Outcome(merged or customer, linked=True)
        code = await self.services.linker.issue(customer.id, inbound.platform, inbound.conversation.workspace)
        return Outcome(customer, link_code=code)

    def compose(self, situation: Situation, decision: Decision, outcome: Outcome, fill: dict[str, str]) -> Draft:
        if outcome.link_code:
            return Draft(fmt(self.t.link_code, fill, code=outcome.link_code))
        if outcome.linked:
            return Draft(fmt(self.t.link_done, fill))
        return Draft(fmt(self.t.link_failed, fill, reason=outcome.link_problem))
