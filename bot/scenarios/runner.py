"""Run scenario files through the real engine, each scenario in a world of its own.

Knowledge is ingested once per run; each distinct set of fixtures is imported once into a copy of
that; each scenario then starts from a fresh copy of its file's snapshot (a copy and an open take a
fraction of a second), so nothing one scenario says, stores, hands off or forgets is seen by another,
while order numbers stay exactly as the fixtures write them.
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from bot.config import Config
from bot.errors import CustomerNotFoundError, RapportError
from bot.runtime import Runtime
from bot.scenarios.checks import Check, Observed, check
from bot.scenarios.decisions import DecisionWatch, watch_decisions
from bot.scenarios.fixtures import check_imported, fixture_files, fixture_key
from bot.scenarios.model import AgentStep, ConversationChoice, LoadedFile, Platform, Say, Scenario
from bot.scenarios.results import RunResult, ScenarioResult, StepResult
from bot.scenarios.speakers import Speaker
from bot.store.records import HandoffRecord
from bot.types import Reply

AGENT = "scenario-agent"
# Variables that would point a run at shared services; a test run must only ever touch its own files.
SERVICE_VARIABLES = ("DATABASE_URL", "REDIS_URL")
Progress = Callable[[ScenarioResult], None]


@dataclass
class RecordingDesk:
    """The agents' desk of a scenario: announcements get a thread reference; what it is told is kept."""

    posts: list[str] = field(default_factory=list)

    async def announce(self, handoff: HandoffRecord, summary: str) -> str:
        self.posts.append(summary)
        return f"scenario:{handoff.id}"

    async def forward(self, handoff: HandoffRecord, text: str) -> None:
        self.posts.append(text)

    async def note(self, handoff: HandoffRecord, text: str) -> None:
        self.posts.append(text)


def embedded(config: Config) -> Config:
    """``config`` with every store embedded in the data directory: no database, Chroma or Redis server."""
    stores = config.stores.model_copy(update={"database_url": "", "chroma_url": "", "vectors": "chroma",
                                                 "redis_url": ""})
    return config.model_copy(update={"stores": stores})


@contextmanager
def services_hidden() -> Iterator[None]:
    """Hide DATABASE_URL and REDIS_URL while the run is on (the runtime falls back to them)."""
    saved = {name: os.environ.pop(name) for name in SERVICE_VARIABLES if name in os.environ}
    try:
        yield
    finally:
        os.environ.update(saved)


class ScenarioRunner:
    """Runs scenario files in ``work_dir`` (which it fills; the caller removes it). ``seed``, a data
    directory with knowledge already ingested, saves the first ingest (only changed files are redone)."""

    def __init__(self, config: Config, work_dir: Path, seed: Path | None = None, progress: Progress | None = None,
                 keep: bool = False) -> None:
        self._config = embedded(config)
        self._work = work_dir
        self._seed = seed
        self._progress = progress
        self._keep = keep  # leave each scenario's data directory for inspection
        self._snapshots: dict[str, Path] = {}
        self._count = 0

    async def run(self, files: list[LoadedFile]) -> RunResult:
        started = time.monotonic()
        with services_hidden(), watch_decisions() as watch:
            problems = await self._ingest()
            results = []
            for file in files:
                snapshot = await self._snapshot(file)
                for scenario in file.content.scenarios:
                    result = await self._scenario(file, scenario, snapshot, watch)
                    results.append(result)
                    if self._progress:
                        self._progress(result)
        return RunResult(tuple(results), time.monotonic() - started, tuple(problems))

    # -- worlds ----------------------------------------------------------------------------------

    @property
    def _base(self) -> Path:
        return self._work / "knowledge"

    async def _ingest(self) -> list[str]:
        if self._seed is not None:
            shutil.copytree(self._seed, self._base)
        async with Runtime.open(self._config, self._base) as runtime:
            report = await runtime.ingest()
        return [f"{p.path}: {p.reason}" for p in report.problems]

    async def _snapshot(self, file: LoadedFile) -> Path:
        key = fixture_key(file)
        if key not in self._snapshots:
            target = self._work / f"fixtures-{key}"
            shutil.copytree(self._base, target)
            async with Runtime.open(self._config, target) as runtime:
                paths = fixture_files(file, self._work / f"inline-{key}")
                if paths:
                    check_imported(file, await runtime.import_files(paths))
            self._snapshots[key] = target
        return self._snapshots[key]

    # -- one scenario ----------------------------------------------------------------------------

    async def _scenario(self, file: LoadedFile, scenario: Scenario, snapshot: Path, watch: DecisionWatch) -> ScenarioResult:
        self._count += 1
        started = time.monotonic()
        world = self._work / f"scenario-{self._count:04d}"
        shutil.copytree(snapshot, world)
        steps: list[StepResult] = []
        error = ""
        try:
            desk = RecordingDesk()
            async with Runtime.open(self._config, world, desk=desk) as runtime:
                play = _Play(runtime, desk, scenario, f"{file.path}#{self._count}", watch)
                await play.join()
                for step in scenario.steps:
                    steps.append(await play.step(step))
        except CustomerNotFoundError as exc:
            error = f"customer {scenario.customer!r} is not in the fixtures ({exc.message})"
        except RapportError as exc:
            error = str(exc)
        except Exception as exc:  # an engine bug is this scenario's failure, not the end of the run
            error = f"{type(exc).__name__}: {exc}"
        finally:
            if not self._keep:
                shutil.rmtree(world, ignore_errors=True)
        return ScenarioResult(str(file.path), scenario.name, tuple(scenario.tags), tuple(steps),
                              time.monotonic() - started, error)


class _Play:
    """One scenario on its runtime: the speaker's lines through the engine, the agent's through the desk."""

    def __init__(self, runtime: Runtime, desk: RecordingDesk, scenario: Scenario, unique: str,
                 watch: DecisionWatch) -> None:
        self._runtime = runtime
        self._scenario = scenario
        self._watch = watch
        self._speaker = Speaker(unique, scenario.place, scenario.external, scenario.display_name)
        self._platform = scenario.platform
        self._customer_id: int | None = None
        self._delivered: list[Reply] = []
        self._desk = desk  # the runtime was built with it
        # What agents send reaches customers through the outbox, as in `rapport chat`: here, this scenario.
        for platform in Platform:
            runtime.delivery.add_sender(platform.value, self._deliver)

    async def _deliver(self, reply: Reply) -> None:
        self._delivered.append(reply)

    async def join(self) -> None:
        """A fixture customer is bound to the speaker's account on each platform they write from."""
        if self._scenario.customer is None:
            return
        customer = await self._runtime.customers.find(self._scenario.customer)
        self._customer_id = customer.id
        if not self._speaker.display_name:
            self._speaker.display_name = customer.name

    async def _attach(self, platform: Platform) -> None:
        if self._customer_id is None:
            return
        customer = await self._runtime.customers.get(self._customer_id)
        if customer is None:  # forgotten during the scenario: from now on a stranger
            self._customer_id = None
            return
        await self._runtime.customers.attach(customer, platform.value, self._speaker.workspace(platform),
                                             self._speaker.user_id(platform))

    async def step(self, step: Say | AgentStep) -> StepResult:
        category = self._runtime.catalog.category
        if isinstance(step, Say):
            self._platform = step.platform or self._scenario.platform
            if self._speaker.conversation(self._platform) is None:  # the first line on this platform
                await self._attach(self._platform)
            inbound = self._speaker.inbound(self._platform, step.say, step.conversation is ConversationChoice.NEW)
            self._watch.take()
            # Shown here, so marked delivered: only agents' replies come through ``_deliver``.
            reply = await self._runtime.delivery.answer_inline(inbound)
            action = self._watch.take()
            # A customer pauses between lines: what the turn wrote in the background is stored by then.
            await self._runtime.memory.flush()
            observed = Observed(reply, action)
            return StepResult("say", step.say, self._platform.value, reply.text if reply else None, action,
                              reply.intent if reply else "", tuple(check(step.expect, observed, category)))
        key = self._speaker.conversation(self._platform)
        handoff = await self._runtime.desk.book.open_for(str(key)) if key is not None else None
        if handoff is None or handoff.id is None:
            return StepResult("agent", step.agent, self._platform.value, None,
                              error="no open handoff in this conversation for the agent to act on")
        before = len(self._delivered)
        message_id = f"{AGENT}-{len(self._delivered)}-{time.monotonic_ns()}"
        transition = await self._runtime.desk.agent_says(handoff.id, AGENT, step.agent, message_id)
        sent = self._delivered[before:]
        checks = [Check("desk", transition.ok, "the desk accepts it", "accepted" if transition.ok else transition.reason)]
        checks += check(step.expect, Observed(sent[-1] if sent else None), category)
        return StepResult("agent", step.agent, self._platform.value, "\n".join(r.text for r in sent) or None,
                          checks=tuple(checks))
