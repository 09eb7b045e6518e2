"""Misspelt words said right towards a small vocabulary: "my dgo" is "my dog", "it arrived brokn" is
"broken". Only a word that is not English of its own, one slip (a letter swapped with its neighbour,
dropped, added or changed) away from exactly one word of the vocabulary, is changed: "cot" stays a cot."""

from __future__ import annotations

import re
from collections.abc import Collection

from bot.knowledge.lexical import english_counts

_TOKEN = re.compile(r"[A-Za-z][A-Za-z']*")


def one_slip(a: str, b: str) -> bool:
    """Whether ``a`` is ``b`` with one letter swapped with its neighbour, dropped, added or changed."""
    if a == b or abs(len(a) - len(b)) > 1:
        return False
    if len(a) == len(b):
        diff = [i for i in range(len(a)) if a[i] != b[i]]
        return len(diff) == 1 or (len(diff) == 2 and diff[1] == diff[0] + 1 and a[diff[0]] == b[diff[1]]
                                  and a[diff[1]] == b[diff[0]])
    short, long = sorted((a, b), key=len)
    return any(long[:i] + long[i + 1:] == short for i in range(len(long)))


def respelt_towards(text: str, vocabulary: Collection[str]) -> str:
    """``text`` with each misspelt word that clearly means one word of ``vocabulary`` replaced by it."""
    english = english_counts()

    def fix(match: re.Match[str]) -> str:
        word = match.group(0)
        low = word.lower()
        if len(low) < 3 or low in vocabulary or low in english or "'" in low:
            return word
        meant = [w for w in vocabulary if one_slip(low, w)]
        return meant[0] if len(meant) == 1 else word

    return _TOKEN.sub(fix, text)
