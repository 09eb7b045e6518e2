"""Word features for the sentiment model: hashed word 1–2-grams with negation marking.

The MiniLM embedding carries the gist of a message but blurs the words that decide its
polarity in support language ("junk", "useless", "fed up", "not happy"). A bag of hashed
n-grams, learned from ~60,000 labelled sentences, keeps them. Negation is marked the classic
way (Das & Chen 2001; Pang et al. 2002): after "not", "never", "don't"... every word up to the
end of the clause gets a ``NOT_`` prefix, so "not happy" and "happy" are different features.

@mentions, links and ``#`` are removed first: in tweets addressed to an airline the handle
says who is being talked to, not how the writer feels.

Hashing (CRC-32, stable across processes and Python versions) needs no vocabulary file; with
2**16 buckets collisions are rare enough not to matter for a linear model.
"""

from __future__ import annotations

import re
import zlib

import numpy as np

NGRAM_BUCKETS = 2**16
_STRIP = re.compile(r"@\w+|https?://\S+|www\.\S+|#")
_TOKEN = re.compile(r"[a-z0-9]+(?:'[a-z]+)?|[:;]-?[()dp]")
_NEGATOR = re.compile(
    r"^(not|no|never|nothing|nobody|none|nowhere|neither|nor|cannot|without|\w+n't"
    r"|dont|cant|wont|isnt|wasnt|didnt|doesnt|havent|hasnt|aint)$"
)
_CLAUSE_END = re.compile(r"([.,;:!?]+)")


def ngram_tokens(text: str) -> list[str]:
    """Lower-cased words, ``NOT_``-marked inside a negated clause, plus ``!`` / ``?`` as tokens."""
    out: list[str] = []
    for piece in _CLAUSE_END.split(_STRIP.sub(" ", text.lower())):
        if _CLAUSE_END.fullmatch(piece):
            out.extend(sorted(set(piece) & {"!", "?"}))
            continue
        negated = False
        for token in _TOKEN.findall(piece):
            out.append("NOT_" + token if negated else token)
            if _NEGATOR.match(token):
                negated = True
    return out


def ngram_ids(text: str) -> np.ndarray:
    """The distinct buckets of the message's unigrams and bigrams (sorted, int64)."""
    tokens = ngram_tokens(text)
    grams = tokens + [f"{a} {b}" for a, b in zip(tokens, tokens[1:])]
    if not grams:
        return np.zeros(0, dtype=np.int64)
    return np.unique(np.fromiter((zlib.crc32(g.encode()) % NGRAM_BUCKETS for g in grams), np.int64, len(grams)))


def ngram_value(ids: np.ndarray) -> float:
    """Each present bucket's value: binary, L2-normalised over the message."""
    return 1.0 / float(np.sqrt(max(len(ids), 1)))
