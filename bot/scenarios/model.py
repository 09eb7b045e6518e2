"""The scenario file format: fixtures and scenarios, as typed models checked once when a file is read.

A mistake in a file is a :class:`ScenarioFileError` naming the file, the scenario and the key, with the
fix; unknown keys are errors, so a typo cannot silently turn a check off.
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, BeforeValidator, ConfigDict, Discriminator, Field, Tag, ValidationError, field_validator, model_validator

from bot.errors import RapportError
from bot.types import SentimentLabel


class ScenarioFileError(RapportError):
    """A scenario file cannot be read or does not follow the format."""


def _as_list(value: Any) -> Any:
    """One value or a list of them: ``contains: order 1042`` reads as ``contains: [order 1042]``."""
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


Texts = Annotated[list[str], BeforeValidator(_as_list)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class Platform(StrEnum):
    CONSOLE = "console"
    SLACK = "slack"
    TELEGRAM = "telegram"
    DISCORD = "discord"


class Place(StrEnum):
    DM = "dm"  # a direct message / private chat with the bot
    CHANNEL = "channel"  # a shared channel or group, the bot @mentioned


class ConversationChoice(StrEnum):
    SAME = "same"  # carry on where the scenario's last line was
    NEW = "new"  # a new conversation: a new console session, a new top-level Slack message (its own thread)


class Recommends(Strict):
    """What the reply's product suggestions must be."""

    sku: Texts = Field(default_factory=list, description="at least one of these SKUs is suggested")
    category: Texts = Field(default_factory=list,
                            description="something is suggested, and every suggestion is in one of these categories")
    not_sku: Texts = Field(default_factory=list, description="none of these SKUs is suggested")
    none: bool = Field(False, description="nothing is suggested")


class Expect(Strict):
    """What one reply must show. Every key is optional; texts are case-insensitive substrings."""

    silent: bool | None = Field(None, description="true: no reply at all; false: some reply")
    intent: Texts = Field(default_factory=list, description="Reply.intent is one of these")
    action: Texts = Field(default_factory=list, description="the engine's decision for the turn is one of these")
    contains: Texts = Field(default_factory=list, description="every one of these appears in the text")
    contains_any: Texts = Field(default_factory=list, description="at least one of these appears in the text")
    not_contains: Texts = Field(default_factory=list, description="none of these appears in the text")
    matches: Texts = Field(default_factory=list, description="every regular expression finds a match (case-insensitive)")
    not_matches: Texts = Field(default_factory=list, description="no regular expression finds a match")
    source: Texts = Field(default_factory=list,
                          description="every page is among the reply's sources (a path, a file name or its stem)")
    not_source: Texts = Field(default_factory=list, description="none of these pages is among the sources")
    handoff: bool | None = Field(None, description="whether the reply hands the conversation to a person")
    sentiment: list[SentimentLabel] = Field(default_factory=list, description="the reply's sentiment label is one of these")
    recommends: Recommends | None = None
    private: bool | None = Field(None, description="whether the reply is for the asker's eyes only")
    files: Texts = Field(default_factory=list, description="a file whose name matches each pattern (fnmatch) is attached")
    file_contains: Texts = Field(default_factory=list, description="each text appears in one of the attached files")
    offers: Texts = Field(default_factory=list,
                          description="each text appears in a suggestion (button) label or its message")

    @field_validator("sentiment", mode="before")
    @classmethod
    def _one_or_more(cls, value: Any) -> Any:
        return _as_list(value)

    @field_validator("matches", "not_matches")
    @classmethod
    def _compiles(cls, patterns: list[str]) -> list[str]:
        import re

        for pattern in patterns:
            try:
                re.compile(pattern)
            except re.error as exc:
                raise ValueError(f"{pattern!r} is not a regular expression ({exc})") from None
        return patterns

    @property
    def wants_reply(self) -> bool:
        """Any key written but ``silent`` and ``action`` (a silent turn has an action too), ``handoff: false``
        included, needs a reply to look at."""
        return bool(self.model_fields_set - {"silent", "action"}) or self.silent is False


class Say(Strict):
    """A line the customer writes, and what the bot's reply to it must show."""

    say: str = Field(min_length=1)
    expect: Expect = Field(default_factory=Expect)
    platform: Platform | None = Field(None, description="write from another platform (the same customer, when known)")
    conversation: ConversationChoice = ConversationChoice.SAME


class AgentStep(Strict):
    """What a human agent types on the desk for this conversation's open handoff: claim, resolve or a message.
    ``expect`` applies to what reached the customer because of it (a relayed message, the rating prompt)."""

    agent: str = Field(min_length=1)
    expect: Expect = Field(default_factory=Expect)


def _step_kind(value: Any) -> str:
    if isinstance(value, dict):
        return "agent" if "agent" in value else "say"
    return "agent" if isinstance(value, AgentStep) else "say"


# Told apart by their first key, so a mistake is reported against the shape the admin meant.
Step = Annotated[Annotated[Say, Tag("say")] | Annotated[AgentStep, Tag("agent")], Discriminator(_step_kind)]


class Scenario(Strict):
    name: str = Field(min_length=1)
    customer: str | None = Field(None, description="external id or email of a fixture customer; absent: a stranger")
    display_name: str = Field("", description="the name the platform shows for the speaker")
    platform: Platform = Platform.CONSOLE
    place: Place = Place.DM
    external: bool = Field(False, description="a Slack Connect user from another organisation")
    tags: Texts = Field(default_factory=list, description="free labels, e.g. the failure class a scenario covers")
    steps: list[Step] = Field(min_length=1)

    @model_validator(mode="after")
    def _fits_the_platform(self) -> Scenario:
        if self.external and self.platform is not Platform.SLACK:
            raise ValueError("external: true is a Slack Connect user; set platform: slack")
        for index, step in enumerate(self.steps):
            if isinstance(step, Say) and step.conversation is ConversationChoice.NEW:
                platform = step.platform or self.platform
                if platform is Platform.TELEGRAM or (platform is Platform.DISCORD and self.place is Place.DM):
                    raise ValueError(f"steps[{index}]: conversation: new is impossible on {platform.value} "
                                     f"({'a private chat' if platform is Platform.TELEGRAM else 'a DM'} is one "
                                     "conversation); use console or slack, or place: channel on discord")
        return self


class Fixtures(Strict):
    """Customer data imported before the scenarios run: files in the formats `rapport import` reads (paths
    relative to the scenario file), and rows written inline with the same column names."""

    files: Texts = Field(default_factory=list)
    customers: list[dict[str, Any]] = Field(default_factory=list)
    orders: list[dict[str, Any]] = Field(default_factory=list)
    events: list[dict[str, Any]] = Field(default_factory=list)
    tickets: list[dict[str, Any]] = Field(default_factory=list)

    @property
    def inline(self) -> dict[str, list[dict[str, Any]]]:
        return {kind: rows for kind in ("customers", "orders", "events", "tickets") if (rows := getattr(self, kind))}


class ScenarioFile(Strict):
    fixtures: Fixtures = Field(default_factory=Fixtures)
    scenarios: list[Scenario] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique_names(self) -> ScenarioFile:
        seen: set[str] = set()
        for scenario in self.scenarios:
            if scenario.name in seen:
                raise ValueError(f"two scenarios are called {scenario.name!r}; names identify them in the report")
            seen.add(scenario.name)
        return self


class LoadedFile(BaseModel):
    """A scenario file as read: where it is (fixture paths are relative to it) and what it holds."""

    model_config = ConfigDict(frozen=True)
    path: Path
    content: ScenarioFile

    def fixture_paths(self) -> list[Path]:
        return [(self.path.parent / name).resolve() for name in self.content.fixtures.files]


def load_file(path: Path) -> LoadedFile:
    """Read and validate one scenario file; :class:`ScenarioFileError` names file, scenario and key."""
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ScenarioFileError(f"{path}: no such file", fix="check the path") from None
    except UnicodeDecodeError:
        raise ScenarioFileError(f"{path}: not UTF-8 text", fix="save the file as UTF-8") from None
    except yaml.YAMLError as exc:
        where = getattr(exc, "problem_mark", None)
        line = f":{where.line + 1}" if where is not None else ""
        raise ScenarioFileError(f"{path}{line}: not valid YAML ({getattr(exc, 'problem', exc)})",
                                fix="check the indentation and quoting near that line") from None
    if not isinstance(raw, dict):
        raise ScenarioFileError(f"{path}: expected a mapping with 'scenarios' (and optionally 'fixtures')",
                                fix="start the file with `scenarios:` and a list of scenarios")
    try:
        content = ScenarioFile.model_validate(raw)
    except ValidationError as exc:
        problems = [_describe(path, raw, error) for error in exc.errors()]
        raise ScenarioFileError("\n".join(problems), fix=_FIX) from None
    loaded = LoadedFile(path=path, content=content)
    for fixture in loaded.fixture_paths():
        if not fixture.is_file():
            raise ScenarioFileError(f"{path}: fixtures.files: {fixture} does not exist",
                                    fix="paths are relative to the scenario file's folder")
    return loaded


_FIX = ("see `rapport test --example`: scenarios have name, customer, platform, place, external, tags "
        "and steps; a step is `say:` (with expect, platform, conversation) or `agent:` (with expect)")

_STEP_KINDS = {"say", "agent"}  # the union's tags, which pydantic puts in the location


def _describe(path: Path, raw: dict[str, Any], error: Any) -> str:
    """One validation error as "file: scenario 'name': steps[2].expect.handoff: problem (got value)"."""
    location = list(error["loc"])
    where = ""
    if len(location) >= 2 and location[0] == "scenarios" and isinstance(location[1], int):
        scenarios = raw.get("scenarios") or []
        index = location[1]
        name = scenarios[index].get("name") if index < len(scenarios) and isinstance(scenarios[index], dict) else None
        where = f"scenario {name!r}: " if name else f"scenarios[{index}]: "
        location = location[2:]
    # A step is one of two shapes; pydantic puts the shape's tag in the location, which an admin never wrote.
    location = [part for i, part in enumerate(location)
                if not (part in _STEP_KINDS and i > 0 and isinstance(location[i - 1], int))]
    key = ""
    for part in location:
        key += f"[{part}]" if isinstance(part, int) else (f".{part}" if key else str(part))
    kind = error["type"]
    if kind == "extra_forbidden":
        message = "unknown key"
    elif kind == "missing":
        message = "missing"
    else:
        message = error["msg"].removeprefix("Value error, ")
    got = "" if kind in {"missing"} else f" (got {error.get('input')!r})" if kind != "extra_forbidden" else ""
    return f"{path}: {where}{key or 'file'}: {message}{got}"
