"""The handler registry: one ordered list; adding an action is one file and one line."""

from __future__ import annotations

from pathlib import Path

from bot.config import Config
from bot.handlers import registry
from bot.handlers.base import Decision, Draft, Handler, Outcome, Situation
from bot.runtime import Runtime
from tests.recording import RecordingAdapter

ROOT = Path(__file__).resolve().parents[2]


def test_every_handler_has_a_unique_name_and_the_fallback_is_last() -> None:
    names = [h.name for h in registry.HANDLERS]
    assert len(names) == len(set(names))
    assert names[-1] == "unknown" and names[0] == "silent"
    memorable = {h.name for h in registry.HANDLERS if h.memorable}
    assert not memorable & {"link", "export", "forget", "csat", "help"}  # a /link code is never recalled


def test_no_stage_switches_on_an_action_name() -> None:
    for path in (ROOT / "bot").rglob("*.py"):
        if "handlers" in path.parts:
            continue
        text = path.read_text()
        assert "Action." not in text, path
        assert "decision.action ==" not in text and "decision.action is" not in text, path


class Opening(Handler):
    """A tiny new action, as an admin's developer would add it."""

    name = "opening_hours"

    def decide(self, situation: Situation) -> Decision | None:
        return self.decision("asked when we are open") if "open on sunday" in situation.text.lower() else None

    def compose(self, situation: Situation, decision: Decision, outcome: Outcome, fill: dict[str, str]) -> Draft:
        return Draft(f"Yes{fill['name_suffix']}, chat support is open every day.")


async def test_a_new_handler_is_one_class_and_one_line(repo_config: Config, data_dir: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    handlers = list(registry.HANDLERS)
    handlers.insert(handlers.index(registry.Answer), Opening)  # the one line
    monkeypatch.setattr(registry, "HANDLERS", tuple(handlers))
    async with Runtime.open(repo_config, data_dir) as runtime:
        reply = await RecordingAdapter(runtime.engine.handle).say("are you open on sunday?")
    assert reply is not None and reply.text == "Yes, chat support is open every day."
