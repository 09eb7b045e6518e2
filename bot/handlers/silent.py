"""A person owns the conversation: the bot stays silent (the desk is shown the message)."""

from __future__ import annotations

from bot.handlers.base import Decision, Draft, Handler, Outcome, Situation


class Silent(Handler):
    name = "silent"

    def decide(self, situation: Situation) -> Decision | None:
        handoff = situation.context.open_handoff
        if handoff is None:
            return None
        return self.decision(f"a person has this conversation ({handoff.status})", silent=True)

    def compose(self, situation: Situation, decision: Decision, outcome: Outcome, fill: dict[str, str]) -> Draft | None:
        return None
