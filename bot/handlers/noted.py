"""The customer told us something about themselves and asked nothing: keep it and say so. A fact with a
key of its own ("my dog is called Rex") is stored on the profile with when it was said; anything else
("my dog is allergic to chicken btw") is kept by the customer's semantic memory, like every message this
handler answers, and asked back through it (``FactRecall``)."""

from __future__ import annotations

from bot.customers.told import in_their_words, said_back, told_about_themselves, whom_about
from bot.handlers.base import Decision, Draft, Handler, Outcome, Situation, fmt


class Noted(Handler):
    name = "noted"

    def decide(self, situation: Situation) -> Decision | None:
        understanding = situation.understanding
        if understanding.command is not None or "?" in understanding.text:
            return None
        if understanding.facts:
            return self.decision("stated a fact about themselves")
        statement = told_about_themselves(understanding.text)
        return self.decision("told something about themselves", detail=statement) if statement else None

    def compose(self, situation: Situation, decision: Decision, outcome: Outcome, fill: dict[str, str]) -> Draft:
        if not situation.understanding.facts:
            statement = said_back(decision.detail)
            if statement:
                return Draft(fmt(self.t.noted_told, fill, statement=in_their_words(statement)))
            # Their words are not fit to quote even respelt (a word we cannot read): say what it was
            # about (Templates.noted_about), never repeat the typos.
            whom = whom_about(decision.detail)
            return Draft(fmt(self.t.noted_about, fill, whom=whom) if whom else fmt(self.t.noted_plain, fill))
        facts = ", ".join(f"{f.label}: {f.value}" for k, f in situation.understanding.facts.items()
                          if not (k == "preferred_name" and "name" in situation.understanding.facts))
        # The new name is what to call them from now on.
        preferred = situation.understanding.facts.get("preferred_name")
        if preferred is not None:
            fill = {**fill, "name": preferred.value, "name_suffix": f", {preferred.value}",
                    "name_comma": f"{preferred.value}, "}
        return Draft(fmt(self.t.noted, fill, facts=facts))
