"""A greeting (or /start without a code): hello, and for a returning customer what matters now."""

from __future__ import annotations

from bot.handlers.base import Decision, Draft, Handler, Outcome, Situation, fmt
from bot.handlers.order_status import status_text


class Greet(Handler):
    name = "greet"

    def decide(self, situation: Situation) -> Decision | None:
        command = situation.understanding.command
        if command is not None and command.known and command.name == "start" and not command.argument:
            return self.decision("start without a code")
        if command is not None or not situation.understanding.is_greeting:
            return None
        # The news a returning customer is greeted with is their open order: it is then under discussion,
        # so "how much was it?" right after means that order.
        news = situation.context.insights.open_orders[:1] if situation.context.returning else []
        return self.decision("greeting", order=news[0]) if news else self.decision("greeting")

    def compose(self, situation: Situation, decision: Decision, outcome: Outcome, fill: dict[str, str]) -> Draft:
        context = situation.context
        if not context.returning:
            return Draft(fmt(self.t.greeting, fill))
        news = status_text(decision.order, self.t) + " " if decision.order is not None else ""
        if not news and context.insights.open_tickets:
            news = f"I can see your open request about “{context.insights.open_tickets[0]}”. "
        return Draft(fmt(self.t.greeting_returning, fill, news=news))
