"""Each expectation of a step, checked against what came back: one :class:`Check` per thing asked for."""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import PurePosixPath

from bot.scenarios.model import Expect
from bot.types import Reply

Categories = Callable[[str], str]  # SKU → catalog category ("" when unknown)


@dataclass(frozen=True, slots=True)
class Observed:
    """What the bot did with one step: its reply (None: it stayed silent) and the action it decided."""

    reply: Reply | None
    action: str = ""  # "" when the engine recorded none (e.g. after /forget deleted the turn)


@dataclass(frozen=True, slots=True)
class Check:
    name: str  # the expectation's key: "contains", "handoff", …
    passed: bool
    expected: str
    got: str


def check(expect: Expect, observed: Observed, category_of: Categories) -> list[Check]:
    """Every check ``expect`` asks for, in the order of its keys."""
    return list(_checks(expect, observed, category_of))


def _checks(expect: Expect, observed: Observed, category_of: Categories) -> Iterator[Check]:
    reply = observed.reply
    if expect.silent is not None:
        yield Check("silent", (reply is None) == expect.silent, "no reply" if expect.silent else "a reply",
                    "no reply" if reply is None else _excerpt(reply.text))
    if reply is None:
        if expect.wants_reply and expect.silent is not False:
            yield Check("reply", False, "a reply to check", "no reply")
        if expect.action:
            yield _one_of("action", expect.action, observed.action)
        return
    text = reply.text.casefold()
    if expect.intent:
        yield _one_of("intent", expect.intent, reply.intent)
    if expect.action:
        yield _one_of("action", expect.action, observed.action)
    for needle in expect.contains:
        yield Check("contains", needle.casefold() in text, repr(needle), _around(reply.text, needle))
    if expect.contains_any:
        found = [n for n in expect.contains_any if n.casefold() in text]
        yield Check("contains_any", bool(found), "one of " + ", ".join(map(repr, expect.contains_any)),
                    f"found {found[0]!r}" if found else _excerpt(reply.text))
    for needle in expect.not_contains:
        yield Check("not_contains", needle.casefold() not in text, f"no {needle!r}", _around(reply.text, needle))
    for pattern in expect.matches:
        match = re.search(pattern, reply.text, re.IGNORECASE)
        yield Check("matches", match is not None, f"/{pattern}/", f"matched {match.group(0)!r}" if match else _excerpt(reply.text))
    for pattern in expect.not_matches:
        match = re.search(pattern, reply.text, re.IGNORECASE)
        yield Check("not_matches", match is None, f"no /{pattern}/", f"matched {match.group(0)!r}" if match else "no match")
    sources = [s.path for s in reply.sources]
    for page in expect.source:
        yield Check("source", any(_same_page(path, page) for path in sources), page, _listed(sources))
    for page in expect.not_source:
        yield Check("not_source", not any(_same_page(path, page) for path in sources), f"not {page}", _listed(sources))
    if expect.handoff is not None:
        got = f"handoff ({reply.handoff.reason})" if reply.handoff else "no handoff"
        yield Check("handoff", (reply.handoff is not None) == expect.handoff,
                    "handoff" if expect.handoff else "no handoff", got)
    if expect.sentiment:
        label = reply.sentiment.label.value if reply.sentiment else "none"
        yield _one_of("sentiment", [s.value for s in expect.sentiment], label)
    if expect.recommends is not None:
        yield from _recommendations(expect, reply, category_of)
    if expect.private is not None:
        yield Check("private", reply.private == expect.private, "private" if expect.private else "not private",
                    "private" if reply.private else "not private")
    names = [f.name for f in reply.files]
    for pattern in expect.files:
        yield Check("files", any(fnmatch.fnmatch(n, pattern) for n in names), pattern, _listed(names))
    for needle in expect.file_contains:
        found = any(needle.casefold() in f.content.casefold() for f in reply.files)
        yield Check("file_contains", found, repr(needle), "found" if found else f"not in {_listed(names)}")
    offered = [f"{s.label} → {s.text}" for s in reply.suggestions]
    for needle in expect.offers:
        yield Check("offers", any(needle.casefold() in o.casefold() for o in offered), repr(needle), _listed(offered))


def _recommendations(expect: Expect, reply: Reply, category_of: Categories) -> Iterator[Check]:
    assert expect.recommends is not None
    wanted = expect.recommends
    skus = [r.sku for r in reply.recommendations]
    shown = _listed([f"{sku} ({category_of(sku) or '?'})" for sku in skus])
    if wanted.none:
        yield Check("recommends.none", not skus, "no suggestions", shown)
    if wanted.sku:
        yield Check("recommends.sku", any(s in skus for s in wanted.sku), "one of " + ", ".join(wanted.sku), shown)
    if wanted.category:
        fits = bool(skus) and all(category_of(s) in wanted.category for s in skus)
        yield Check("recommends.category", fits, "only " + " or ".join(wanted.category), shown)
    for sku in wanted.not_sku:
        yield Check("recommends.not_sku", sku not in skus, f"not {sku}", shown)


def _one_of(name: str, allowed: list[str], got: str) -> Check:
    return Check(name, got in allowed, " or ".join(allowed), got or "(none)")


def _same_page(path: str, page: str) -> bool:
    """``returns``, ``returns.md`` and ``knowledge/pages/returns.md`` all name the same page."""
    have, want = PurePosixPath(path.replace("\\", "/")), PurePosixPath(page.replace("\\", "/"))
    if want.suffix:
        return have.parts[-len(want.parts):] == want.parts
    return have.stem == want.name


def _listed(items: list[str]) -> str:
    return ", ".join(items) if items else "(none)"


def _excerpt(text: str, width: int = 120) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= width else flat[: width - 1] + "…"


def _around(text: str, needle: str, width: int = 60) -> str:
    """Where ``needle`` is in the text (for a hit), else the start of the text."""
    flat = " ".join(text.split())
    at = flat.casefold().find(needle.casefold())
    if at < 0:
        return _excerpt(flat)
    start = max(0, at - width // 2)
    return ("…" if start else "") + flat[start : at + len(needle) + width // 2] + ("…" if at + len(needle) + width // 2 < len(flat) else "")
