"""Someone with no orders on record gives an email address to be looked up ("my email is ana@…", "i ordered
with ana@…"): an account is never opened from an address typed in a chat, since anyone can type one. Say so,
and offer a person who can check it is them."""

from __future__ import annotations

import re

from bot.handlers.base import PERSON, Decision, Draft, Handler, Outcome, Situation, fmt

_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")


class EmailGiven(Handler):
    name = "email_given"

    def decide(self, situation: Situation) -> Decision | None:
        if situation.understanding.command is not None:
            return None
        own = (situation.customer.email or "").lower()
        given = [e for e in _EMAIL.findall(situation.text) if e.lower() != own]
        insights = situation.context.insights
        # A customer with orders who mentions another address is answered from their own orders as usual.
        if not given or insights.orders or insights.recent_orders:
            return None
        return self.decision("gave an email address to be looked up", detail=given[0])

    def compose(self, situation: Situation, decision: Decision, outcome: Outcome, fill: dict[str, str]) -> Draft:
        return Draft(fmt(self.t.email_given, fill), suggestions=(PERSON,))
