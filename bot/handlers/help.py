"""/help (and questions about privacy): what the bot can do and the commands it knows."""

from __future__ import annotations

from bot.intents import IntentLabel
from bot.handlers.base import Decision, Draft, Handler, Outcome, Situation, fmt


class Help(Handler):
    name = "help"
    memorable = False

    def decide(self, situation: Situation) -> Decision | None:
        command = situation.understanding.command
        if command is not None and command.known and command.name == "help":
            return self.decision("/help command")
        if command is None and situation.understanding.intent.label == IntentLabel.PRIVACY:
            return self.decision(f"intent privacy ({situation.understanding.intent.confidence:.2f})")
        return None

    def compose(self, situation: Situation, decision: Decision, outcome: Outcome, fill: dict[str, str]) -> Draft:
        return Draft(fmt(self.t.help, fill))
