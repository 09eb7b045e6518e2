"""The words that name the shop's products, so a policy question about one item reads as about any item.

"my kettle got cheaper since I bought it, can I get the difference?" is a question about the price
adjustment policy, but in MiniLM's embedding the word "kettle" outweighs the rest (cosine 0.24 with the
price adjustment section, 0.52 for "my item got cheaper since I bought it…"), and on the keyword side a
word no policy page holds lowers every policy section's coverage. The pages name products only where a
product has its own section (cleaning the desk lamp); the policies speak of "an item". So when the
question as written finds no answer, the search reads it again with its product nouns said as "item"
and keeps the better score of each section (``bot/knowledge/search.py`` says when): a product-care
question loses nothing, a policy question about a named item finds its policy.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

_WORD = re.compile(r"[a-z][a-z'-]*", re.I)
# Not the thing itself: "Notebook 3-Pack" is a notebook, "Puppy Starter Kit" stays a kit.
_NOT_NOUNS = frozenset({"pack", "set", "pair", "count", "bundle", "pro", "plus", "mini", "max"})


def _plural(word: str) -> str:
    return word[:-1] + "ies" if word.endswith("y") and word[-2:-1] not in "aeiou" else \
        word + "es" if word.endswith(("s", "sh", "ch", "x")) else word + "s"


def head_nouns(names: Iterable[str]) -> frozenset[str]:
    """The head noun of each product name, singular and plural ("Halo LED Desk Lamp" -> lamp, lamps;
    "Merino Running Socks 3-Pack" -> socks, sock)."""
    nouns: set[str] = set()
    for name in names:
        words = [w.lower() for w in _WORD.findall(name.split(",")[0]) if w.lower() not in _NOT_NOUNS]
        if not words:
            continue
        head = words[-1]
        singular = head[:-1] if head.endswith("s") and not head.endswith("ss") and len(head) > 3 else head
        nouns |= {head, singular, _plural(singular)}
    return frozenset(n for n in nouns if len(n) > 2)


class ProductWords:
    """The catalog's head nouns; :meth:`generalised` says a question's product nouns as "item"."""

    def __init__(self, names: Iterable[str] = ()) -> None:
        self.nouns = head_nouns(names)

    def generalised(self, text: str) -> tuple[str, str] | None:
        """``text`` read as about any item: for the embedding, each product noun said as "item" ("items"
        for a plural); for the keywords, the product nouns left out (an "item" the customer never wrote
        must not favour the sections that say "item"). None when it names no product (most questions)."""
        if not any(w.lower() in self.nouns for w in _WORD.findall(text)):
            return None

        def said_as_item(match: re.Match[str]) -> str:
            word = match.group(0).lower()
            if word not in self.nouns:
                return match.group(0)
            return "items" if word.endswith("s") and not word.endswith("ss") else "item"

        def left_out(match: re.Match[str]) -> str:
            return "" if match.group(0).lower() in self.nouns else match.group(0)

        return _WORD.sub(said_as_item, text), " ".join(_WORD.sub(left_out, text).split())
