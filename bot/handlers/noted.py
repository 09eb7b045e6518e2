"""The customer told us something about themselves and asked nothing: keep it (the remember stage
stores the facts with when they were said) and say so."""

from __future__ import annotations

from bot.handlers.base import Decision, Draft, Handler, Outcome, Situation, fmt


class Noted(Handler):
    name = "noted"

    def decide(self, situation: Situation) -> Decision | None:
        understanding = situation.understanding
        if understanding.command is not None or not understanding.facts or "?" in understanding.text:
            return None
        return self.decision("stated a fact about themselves")

    def compose(self, situation: Situation, decision: Decision, outcome: Outcome, fill: dict[str, str]) -> Draft:
        facts = ", ".join(f"{f.label}: {f.value}" for k, f in situation.understanding.facts.items()
                          if not (k == "preferred_name" and "name" in situation.understanding.facts))
        # The new name is what to call them from now on.
        preferred = situation.understanding.facts.get("preferred_name")
        if preferred is not None:
            fill = {**fill, "name": preferred.value, "name_suffix": f", {preferred.value}",
                    "name_comma": f"{preferred.value}, "}
        return Draft(fmt(self.t.noted, fill, facts=facts))
