"""What a run found: per scenario, per step, each check with what was expected and what came back."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from bot.scenarios.checks import Check


@dataclass(frozen=True, slots=True)
class StepResult:
    kind: str  # "say": the customer wrote; "agent": a person typed on the desk
    text: str
    platform: str
    reply: str | None  # the reply's text; None when nothing came back
    action: str = ""
    intent: str = ""
    checks: tuple[Check, ...] = ()
    error: str = ""  # the step could not run (e.g. an agent step with no open handoff)

    @property
    def passed(self) -> bool:
        return not self.error and all(c.passed for c in self.checks)


@dataclass(frozen=True, slots=True)
class ScenarioResult:
    file: str
    name: str
    tags: tuple[str, ...]
    steps: tuple[StepResult, ...]
    seconds: float
    error: str = ""  # the scenario stopped: an unknown customer, an exception in the engine

    @property
    def passed(self) -> bool:
        return not self.error and all(s.passed for s in self.steps)

    @property
    def checks(self) -> list[Check]:
        return [c for s in self.steps for c in s.checks]


@dataclass(frozen=True, slots=True)
class RunResult:
    scenarios: tuple[ScenarioResult, ...]
    seconds: float
    knowledge_problems: tuple[str, ...] = field(default=())

    @property
    def passed(self) -> bool:
        return all(s.passed for s in self.scenarios)

    @property
    def check_counts(self) -> tuple[int, int]:
        """(passed, total) over every check of every scenario; a step that could not run counts as one failed check."""
        checks = [c.passed for s in self.scenarios for c in s.checks]
        broken = sum(1 for s in self.scenarios for st in s.steps if st.error) + sum(1 for s in self.scenarios if s.error)
        return sum(checks), len(checks) + broken

    @property
    def pass_rate(self) -> float:
        passed, total = self.check_counts
        return passed / total if total else 1.0

    def as_json(self) -> dict[str, Any]:
        passed, total = self.check_counts
        return {
            "passed": self.passed,
            "scenarios": {"total": len(self.scenarios), "passed": sum(s.passed for s in self.scenarios)},
            "checks": {"total": total, "passed": passed, "pass_rate": round(self.pass_rate, 4)},
            "seconds": round(self.seconds, 2),
            "knowledge_problems": list(self.knowledge_problems),
            "results": [
                {"file": s.file, "name": s.name, "tags": list(s.tags), "passed": s.passed, "error": s.error,
                 "seconds": round(s.seconds, 3),
                 "steps": [{"kind": st.kind, "text": st.text, "platform": st.platform, "reply": st.reply,
                            "action": st.action, "intent": st.intent, "passed": st.passed, "error": st.error,
                            "checks": [asdict(c) for c in st.checks]} for st in s.steps]}
                for s in self.scenarios
            ],
        }
