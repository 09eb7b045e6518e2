"""Casual misspellings corrected before a message is embedded: "my lamp arived brokn!!!" is read as
"my lamp arrived broken!!!". MiniLM's word pieces of a misspelt word carry little of its meaning, so
the misspelt message scored +0.44 (positive) and the corrected one −0.79.

Only lower-case words of four letters or more that are in no English dictionary are touched (names,
product names, order numbers, "Ana", "TrailCharge", "1042" stay as written), and they become the
nearest frequent English word, preferring one the typed word is a subsequence of (casual typing drops
letters: "realy" is "really" before "real", "brokn" "broken" before "brown"), then the fewer edits, then
the more frequent word. Stretched words ("sooo") are squeezed first. The dictionary is SymSpell's
bundled English one (``symspellpy``), its words seen at least 700,000 times (~26,000): ~0.3 s and ~10 MB
to build (prefix length 5; 6 cost 24 MB for the same corrections),
done once a process, on the first message that holds an unknown word.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterable
from typing import Any

from symspellpy import SymSpell, Verbosity

from bot.knowledge.lexical import english_counts

# Frequent enough to be what a customer meant (rarer words are kept when typed, never suggested).
TARGET_MIN_COUNT = 700_000
_WORD = re.compile(r"[A-Za-z]+(?:['\u2019][A-Za-z]+)?")
_STRETCHED = re.compile(r"(.)\1{2,}")
# Chat spellings a customer means as written: never "corrected" into another word.
CHAT_WORDS = frozenset(
    "im ive id ill dont doesnt didnt cant couldnt wont wouldnt isnt arent wasnt werent hasnt havent hadnt "
    "shouldnt youre theyre thats whats wheres hows theres lets thx pls plz lol nvm omg idk btw tbh imo asap "
    "thnx thanx gonna wanna gotta kinda yeah yep nope okay hiya".split()
)


class EnglishRespeller:
    """``respell(text)``: the text with its misspelt words corrected, or None when none was."""

    def __init__(self, known_words: Iterable[str] = ()) -> None:
        self._known = frozenset(w.lower() for w in known_words)
        self._english = english_counts()  # at start-up, shared with the keyword indexes

    def needs_lookup(self, text: str) -> bool:
        """Whether ``text`` holds a word to look up: cheap (dictionary membership), so the caller can
        keep the lookup, and the first one's ~0.3 s build, off the event loop for those messages only."""
        return any(self._unknown(m.group()) for m in _WORD.finditer(text))

    def respell(self, text: str) -> str | None:
        changed = False  # the dictionary is built by the first unknown word only

        def corrected(match: re.Match[str]) -> str:
            nonlocal changed
            word = match.group()
            fixed = self._correct(word) if self._unknown(word) else word
            changed |= fixed != word
            return fixed

        respelt = _WORD.sub(corrected, text)
        return respelt if changed else None

    def _unknown(self, word: str) -> bool:
        return (len(word) >= 4 and word.islower() and word.isalpha() and word not in self._english
                and word not in CHAT_WORDS and word not in self._known)

    def _correct(self, word: str) -> str:
        symspell, targets = _dictionary()
        if _STRETCHED.search(word):
            for squeeze in (r"\1\1", r"\1"):  # "sooo" -> "soo" -> "so"; "cooool" -> "cool"
                squeezed = _STRETCHED.sub(squeeze, word)
                if squeezed in targets:
                    return squeezed
            word = _STRETCHED.sub(r"\1\1", word)
        found = symspell.lookup(word, Verbosity.ALL, max_edit_distance=1 if len(word) <= 5 else 2)
        if not found:
            return word
        best = max(found, key=lambda s: (_is_subsequence(word, s.term), -s.distance, s.count))
        # Two edits that change the first letter are another word, not a slip ("flickring" is not "clicking",
        # though "flickering" is too rare to be a target); letters dropped, or one edit, are a slip.
        if best.distance > 1 and best.term[0] != word[0] and not _is_subsequence(word, best.term):
            return word
        return str(best.term)


# Built once a process, whatever the number of runtimes (the scenario runner opens one a scenario).
_BUILT: tuple[Any, dict[str, int]] | None = None
_BUILDING = threading.Lock()


def _dictionary() -> tuple[Any, dict[str, int]]:
    """SymSpell over the frequent English words, and those words with their counts."""
    global _BUILT
    with _BUILDING:  # understanding runs on worker threads: two first messages build it once
        if _BUILT is None:
            symspell = SymSpell(max_dictionary_edit_distance=2, prefix_length=5)
            targets = {w: c for w, c in english_counts().items() if c >= TARGET_MIN_COUNT}
            for word, count in targets.items():
                symspell.create_dictionary_entry(word, count)
            _BUILT = symspell, targets
        return _BUILT


def _is_subsequence(typed: str, word: str) -> bool:
    letters = iter(word)
    return all(c in letters for c in typed)
