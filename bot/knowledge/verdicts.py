"""Whether a section's leading "Yes." or "No." answers the question the customer asked.

A section answers its own heading: "## Do gift cards expire?" begins "No. Northwind gift cards never
expire…". Asked "do you have gift cards?", that "No." answers a question nobody asked, and reads as
"we don't have gift cards". A person asked whether we have, sell or offer a thing says "Yes" when the
shop has a page about that thing, and tells what it is; a verdict is only repeated when the section's
own question is also whether something is offered ("Do you price match other stores?" stays "No").
"""

from __future__ import annotations

import re

import Stemmer

from bot.knowledge.lexical import STOPWORDS, words

# "do you have gift cards?", "do u sell giftcards", "thanks! do you guys do gift cards", "can I buy a gift
# card", "is there a loyalty program?", "are there any gift cards": whether the shop has or offers a thing.
_OFFERED = re.compile(
    r"\b(?:do|does)\s+(?:you|u|ya|y'?all|northwind|the shop|the store)\s+(?:guys\s+|folks\s+|also\s+|even\s+)?"
    r"(?:have|sell|offer|do|carry|stock)\s+(?P<a>[^?.!,;]+)|"
    r"\b(?:can|could|may)\s+(?:i|we|u)\s+(?:buy|get|order|purchase)\s+(?P<b>[^?.!,;]+)|"
    r"\b(?:is|are)\s+there\s+(?P<c>[^?.!,;]+)", re.I)
# A heading that itself asks whether something is offered: its verdict is one to such a question.
_OFFER_HEADING = re.compile(
    r"^\s*(?:(?:do|does)\s+(?:you|we|northwind)\s+(?:offer|have|sell|carry|stock|ship|accept|price match|do)\b|"
    r"(?:is|are)\s+there\b|can\s+i\s+(?:buy|get|order|purchase)\b)", re.I)
_VERDICT = re.compile(r"^\s*(?P<verdict>yes|no)(?:[.!]\s+|,\s*)(?P<rest>\S.*)", re.I | re.S)
_NOT_THE_THING = frozenset({"any", "northwind", "option", "options", "way", "ways", "kind", "kinds", "type", "types"})
_stemmer = Stemmer.Stemmer("english")


def _stems(text: str) -> list[str]:
    return _stemmer.stemWords([w for w in words(text) if w not in STOPWORDS and w not in _NOT_THE_THING])


def offered_thing(question: str) -> str:
    """What the question asks whether the shop has or offers ("gift cards"), or "" for any other question."""
    match = _OFFERED.search(question)
    if match is None:
        return ""
    return next(group for group in match.groups() if group).strip()


def leading_verdict(body: str) -> tuple[str, str]:
    """("yes" or "no", the rest with its first letter raised) when ``body`` opens with a bare verdict
    ("No. Northwind gift cards…", "Yes, you can use up to 5…"); else ("", body)."""
    match = _VERDICT.match(body)
    if match is None:
        return "", body
    rest = match.group("rest")
    return match.group("verdict").lower(), rest[:1].upper() + rest[1:]


def asks_whether_offered(heading: str) -> bool:
    """Whether a section's heading is itself a question of whether something is offered."""
    return bool(_OFFER_HEADING.match(heading))


def is_about(thing: str, title: str) -> bool:
    """Whether a page titled ``title`` is about ``thing``: every word of the thing is one of the title's
    ("gift cards", "giftcards" -> "Gift cards"; "a loyalty program" -> "Trail Rewards loyalty program")."""
    wanted, have = _stems(thing), _stems(title)
    if not wanted or not have:
        return False
    if set(wanted) <= set(have):
        return True
    # Written as one word: "giftcards" is "gift cards".
    return "".join(wanted) == "".join(_stemmer.stemWords(["".join(w for w in words(title) if w not in STOPWORDS)]))
