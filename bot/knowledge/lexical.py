"""Keyword search over knowledge sections: BM25 on stemmed words, with typos corrected first.

Customers write "how lnog does shiping take"; a dense embedding of that drifts, and BM25
on raw words finds nothing. So each query word that is not in the knowledge vocabulary
and not an ordinary English word is replaced by the nearest vocabulary word (Damerau-
Levenshtein, via SymSpell), and then words are stemmed ("returned" and "returns" meet).

An index is built once from the sections in the vector store (at start-up and after each
ingest), never while answering: a query only tokenizes and scores.
"""

from __future__ import annotations

import logging
import math
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

import bm25s
import numpy as np
import Stemmer
from bm25s.stopwords import STOPWORDS_EN_PLUS
from symspellpy import SymSpell, Verbosity

# bm25s sets its own logger to DEBUG on import, so every index build would reach the console.
logging.getLogger("bm25s").setLevel(logging.WARNING)

SectionKey = tuple[str, int]  # (source page, chunk index): one retrievable section

_WORD = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")
_WORD_AS_WRITTEN = re.compile(r"[a-z0-9]+(?:['\u2019][a-z]+)?", re.I)  # what _WORD finds, before lower-casing
# Chat filler carries no topic; BM25's own list lacks it.
_CHAT_FILLER = {"pls", "plz", "please", "hi", "hey", "hello", "guys", "u", "ur", "im", "i'm", "ive", "i've", "thx",
                "thanks", "ok", "okay", "just", "still", "now", "really", "get", "got", "want", "need", "know"}
STOPWORDS = frozenset(STOPWORDS_EN_PLUS) | _CHAT_FILLER
# A word that is itself English is kept unless a vocabulary word this many times more common
# is one edit away ("oder" is a German word in web text, but in a shop chat it means "order").
_PRIOR_RATIO = 50.0


@dataclass(frozen=True, slots=True)
class LexicalDocument:
    key: SectionKey
    title: str
    section: str
    text: str

    @property
    def indexed_text(self) -> str:
        # The heading is the question customers ask: counted twice, like a boosted field.
        return f"{self.title}\n{self.section}\n{self.section}\n{self.text}"


@dataclass(frozen=True, slots=True)
class LexicalScore:
    key: SectionKey
    bm25: float
    coverage: float  # share of the query's IDF weight that this section contains, in [0, 1]


def words(text: str) -> list[str]:
    """Lower-cased word tokens, apostrophes folded ("can't" -> "cant"), stopwords kept."""
    return [w.replace("'", "") for w in _WORD.findall(text.lower().replace("\u2019", "'"))]


@lru_cache(maxsize=1)
@lru_cache(maxsize=1)
def english_counts() -> dict[str, int]:
    """Word frequencies of SymSpell's bundled English dictionary (82,765 words), loaded once a process
    (~0.09 s): every keyword index and the message respeller read it, none changes it."""
    counts: dict[str, int] = {}
    text = resources.files("symspellpy").joinpath("frequency_dictionary_en_82_765.txt").read_text(encoding="utf-8")
    for line in text.splitlines():
        word, _, count = line.partition(" ")
        if count.isdigit():
            counts[word] = int(count)
    return counts


class SpellingCorrector:
    """Maps a misspelt word to the nearest word of the knowledge vocabulary, or leaves it alone."""

    def __init__(self, vocabulary: Counter[str], english: dict[str, int]) -> None:
        self._vocabulary = vocabulary
        self._english = english
        self._symspell = SymSpell(max_dictionary_edit_distance=2, prefix_length=7)
        for word, count in vocabulary.items():
            # English frequency ranks candidates ("long" over "lung"); the vocabulary count breaks ties.
            self._symspell.create_dictionary_entry(word, english.get(word, 0) + count)

    def correct(self, word: str) -> str:
        if word in self._vocabulary or len(word) < 4 or not word.isalpha():
            return word
        # Short words get one edit: with two, "sock" could become "stock" or "lock".
        limit = 1 if len(word) <= 6 else 2
        found = self._symspell.lookup(word, Verbosity.CLOSEST, max_edit_distance=limit)
        if not found:
            return word
        best = found[0].term
        known = self._english.get(word, 0)
        if known and self._english.get(best, 0) < _PRIOR_RATIO * known:
            return word  # a real word in its own right ("weather" is not "leather")
        return best


class LexicalIndex:
    """BM25 over one collection's sections, with the vocabulary its spelling correction uses."""

    def __init__(self, documents: Sequence[LexicalDocument], english: dict[str, int] | None = None) -> None:
        self._stemmer = Stemmer.Stemmer("english")
        self.keys: list[SectionKey] = [d.key for d in documents]
        self._row = {key: row for row, key in enumerate(self.keys)}
        raw = [words(d.indexed_text) for d in documents]
        vocabulary: Counter[str] = Counter(w for doc in raw for w in doc if w not in STOPWORDS)
        self.corrector = SpellingCorrector(vocabulary, english if english is not None else english_counts())
        stemmed = [self._stems(doc) for doc in raw]
        self._doc_terms = [set(doc) for doc in stemmed]
        df: Counter[str] = Counter(t for doc in self._doc_terms for t in doc)
        n = len(documents)
        # Lucene's BM25 idf; a word in no section gets the idf of a word in half a section.
        self._idf = {t: math.log(1 + (n - f + 0.5) / (f + 0.5)) for t, f in df.items()}
        self._unseen_idf = math.log(1 + (n + 0.5) / 0.5) if n else 1.0
        self._bm25 = bm25s.BM25(k1=1.2, b=0.75)
        if documents:
            self._bm25.index(stemmed, show_progress=False)

    def __len__(self) -> int:
        return len(self.keys)

    def __contains__(self, key: SectionKey) -> bool:
        return key in self._row

    def _stems(self, tokens: Iterable[str]) -> list[str]:
        return self._stemmer.stemWords([t for t in tokens if t not in STOPWORDS])

    def query_terms(self, text: str) -> list[str]:
        """The stemmed, spelling-corrected terms a query is scored with."""
        return self._stems(self.corrector.correct(w) for w in words(text) if w not in STOPWORDS)

    def correct(self, text: str) -> str:
        """The query's words, lower-cased, each misspelt one replaced by its vocabulary word."""
        return " ".join(self.corrector.correct(w) for w in words(text))

    def respell(self, text: str) -> str | None:
        """``text`` with its misspelt words corrected in place, else None (most turns: nothing to
        re-embed). The rest stays as written: "bought it, can i get the diference?" keeps its comma
        and question mark, which the embedding reads (0.53 to the price-adjustment section with them,
        0.49 without)."""
        changed = False

        def corrected(match: re.Match[str]) -> str:
            nonlocal changed
            (word,) = words(match.group())  # the pattern matches exactly one of ``words``' tokens
            fixed = self.corrector.correct(word)
            changed |= fixed != word
            return fixed if fixed != word else match.group()

        respelt = _WORD_AS_WRITTEN.sub(corrected, text)
        return respelt if changed else None

    def score(self, text: str) -> dict[SectionKey, LexicalScore]:
        """BM25 and query coverage of every section that shares a term with the query."""
        terms = list(dict.fromkeys(self.query_terms(text)))
        if not terms or not self.keys:
            return {}
        known = [t for t in terms if t in self._idf]
        bm25 = self._bm25.get_scores(known) if known else np.zeros(len(self.keys))
        total = sum(self._idf.get(t, self._unseen_idf) for t in terms)
        scores: dict[SectionKey, LexicalScore] = {}
        for row in np.flatnonzero(bm25 > 0):
            matched = sum(self._idf[t] for t in known if t in self._doc_terms[row])
            scores[self.keys[row]] = LexicalScore(self.keys[row], float(bm25[row]), matched / total)
        return scores
