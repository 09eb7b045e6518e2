"""A /command the bot does not know: say so and list the real ones."""

from __future__ import annotations

from bot.handlers.base import Decision, Draft, Handler, Outcome, Situation, fmt

COMMANDS = (
    ("/help", "what I can do"),
    ("/link", "connect your accounts on other platforms"),
    ("/export", "everything we store about you, as a file"),
    ("/forget", "delete everything we store about you"),
    ("/csat 1-5", "rate the help you got from our team"),
)


class UnknownCommand(Handler):
    name = "unknown_command"
    memorable = False

    def decide(self, situation: Situation) -> Decision | None:
        command = situation.understanding.command
        return self.decision(f"unknown command /{command.name}", detail=command.name) if command is not None and not command.known else None

    def compose(self, situation: Situation, decision: Decision, outcome: Outcome, fill: dict[str, str]) -> Draft:
        listing = "\n".join(f"• {name} — {what}" for name, what in COMMANDS)
        return Draft(fmt(self.t.unknown_command, fill, command=f"/{decision.detail}", commands=listing))
