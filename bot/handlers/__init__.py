"""What the bot can do, one handler per action, asked in order by the decide stage (``registry.py``)."""

from bot.handlers.base import Decision, Draft, Handler, Outcome, Registry, Services, Situation

__all__ = ["Decision", "Draft", "Handler", "Outcome", "Registry", "Services", "Situation"]
