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
        return self.decision("greeting") if command is None and situation.understanding.is_greeting else None

    def compose(self, situation: Situation, decision: Decision, outcome: Outcome, fill: dict[str, str]) -> Draft:
        context = situation.context
        if not context.returning:
            return Draft(fmt(self.t.greeting, fill))
        news = ""
        for order in context.insights.open_orders[:1]:
            news = status_text(order, self.t) + " "
        if not news and context.insights.open_tickets:
            news = f"I can see your open request about “{context.insights.open_tickets[0]}”. "
        return Draft(fmt(self.t.greeting_returning, fill, news=news))
