"""Each expectation checked against a reply, without the engine: what passes, what fails, what is reported."""

from __future__ import annotations

from bot.scenarios.checks import Observed, check
from bot.scenarios.model import Expect
from bot.types import (ConversationKey, HandoffNotice, OutboundFile, Recommendation, Reply, Sentiment, SentimentLabel,
                       Source, Suggestion)

KEY = ConversationKey("console", "local", "u", "t")
CATEGORIES = {"KIT-KTL-01": "kitchen", "RUN-HDL-01": "running"}


def reply(text: str = "", **fields: object) -> Reply:
    return Reply(conversation=KEY, in_reply_to="m1", text=text, **fields)  # type: ignore[arg-type]


def results(expect: dict[str, object], observed: Observed) -> dict[str, list[bool]]:
    found: dict[str, list[bool]] = {}
    for c in check(Expect.model_validate(expect), observed, lambda sku: CATEGORIES.get(sku, "")):
        found.setdefault(c.name, []).append(c.passed)
    return found


def test_texts_are_case_insensitive_substrings_and_regexes() -> None:
    seen = Observed(reply("Your order 1042 (Halo LED Desk Lamp) SHIPPED on 24 Nov."))
    assert results({"contains": ["shipped", "1042"], "contains_any": ["nope", "halo"], "not_contains": ["1043"],
                    "matches": [r"\b24 nov\b"], "not_matches": ["^sorry"]}, seen) == {
        "contains": [True, True], "contains_any": [True], "not_contains": [True], "matches": [True], "not_matches": [True]}
    assert results({"contains": ["1043"], "not_contains": ["halo"]}, seen) == {"contains": [False], "not_contains": [False]}


def test_sources_match_by_path_file_name_or_stem() -> None:
    seen = Observed(reply("x", sources=(Source("Returns", "s", "knowledge/pages/returns.md", 0.9),)))
    assert results({"source": ["returns", "returns.md", "pages/returns.md"], "not_source": ["gift-cards"]}, seen) == {
        "source": [True, True, True], "not_source": [True]}
    assert results({"source": ["return"]}, seen) == {"source": [False]}


def test_decisions_handoff_sentiment_private_files_and_offers() -> None:
    seen = Observed(reply("x", handoff=HandoffNotice("asked", "pending"), intent="human_agent", private=True,
                          sentiment=Sentiment(SentimentLabel.NEGATIVE, -0.7, 0.9),
                          files=(OutboundFile("rapport-export-7.json", '{"email": "ana@example.com"}'),),
                          suggestions=(Suggestion("Talk to a person", "I'd like to talk to a person"),)),
                    action="handoff")
    assert results({"handoff": True, "intent": ["human_agent", "oos"], "action": "handoff", "private": True,
                    "sentiment": "negative", "files": ["rapport-export-*.json"], "file_contains": ["ANA@example"],
                    "offers": ["person"]}, seen) == {
        "intent": [True], "action": [True], "handoff": [True], "sentiment": [True], "private": [True],
        "files": [True], "file_contains": [True], "offers": [True]}
    assert results({"handoff": False, "sentiment": ["positive", "neutral"], "offers": ["5"]}, seen) == {
        "handoff": [False], "sentiment": [False], "offers": [False]}


def test_recommendations_by_sku_and_category() -> None:
    picks = (Recommendation("KIT-KTL-01", "Kettle", 69.0, "r", 1.0), Recommendation("RUN-HDL-01", "Headlamp", 44.95, "r", 0.5))
    seen = Observed(reply("x", recommendations=picks))
    assert results({"recommends": {"sku": ["KIT-KTL-01"], "category": ["kitchen", "running"], "not_sku": ["X"]}}, seen) == {
        "recommends.sku": [True], "recommends.category": [True], "recommends.not_sku": [True]}
    # Every suggestion must fit the category: a headlamp for a cook fails.
    assert results({"recommends": {"category": "kitchen", "none": True}}, seen) == {
        "recommends.none": [False], "recommends.category": [False]}
    assert results({"recommends": {"category": "kitchen"}}, Observed(reply("x"))) == {"recommends.category": [False]}


def test_silence() -> None:
    quiet = Observed(None, action="silent")
    assert results({"silent": True, "action": "silent"}, quiet) == {"silent": [True], "action": [True]}
    assert results({"silent": True}, Observed(reply("hello"))) == {"silent": [False]}
    # Any other key needs a reply to look at, `handoff: false` too: silence never passes it by default.
    assert results({"handoff": False}, quiet) == {"reply": [False]}
    assert results({}, quiet) == {}
