"""Sentiment of customer messages: a small linear model over MiniLM embeddings plus VADER features.

VADER reads words, so it calls "My refund still hasn't arrived, terrible service" positive
(compound +0.37): its negation rule sees "hasn't" within three words before "terrible" and
flips it, and nothing else in the sentence is in its lexicon. A sentence embedding
captures the complaint. The model is a three-class (negative / neutral / positive) multinomial
logistic regression over

* the all-MiniLM-L6-v2 embedding of the message (384 numbers, from :mod:`bot.embedder`), and
* thirteen cheap features (``EXTRA_FEATURES``): VADER's compound, pos, neg and neu scores, whether the
  message is a question, frustration (repeat-contact) and sarcasm cues, the share of shouted
  (all-caps) letters, repeated ``!``/``?``, shortness, a repeated ``??``, a plain question
  ("are the socks itchy?") and a fact told about themselves ("my dog is allergic to chicken")
  (standardised with the training set's mean and spread).

It is trained by ``scripts/train_sentiment.py`` and its weights ship as
``bot/nlp/sentiment_model.npz`` (~6 KB); inference is one matrix product in numpy.

``score`` is ``P(positive) - P(negative)`` in [-1, 1]; the label is read off the score with the
neutral band stored in the model file (0.2: negative at or below -0.2, positive at or above 0.2),
so labels follow scores; ``confidence`` is the label's class probability. Questions and plain
statements of fact come out neutral because the model also learned a neutral class.
"""

from __future__ import annotations

import json
import re
from datetime import datetime, timezone
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from bot.errors import RapportError
from bot.types import Sentiment, SentimentLabel

MODEL_PATH = Path(__file__).resolve().parent / "sentiment_model.npz"
CLASSES = (SentimentLabel.NEGATIVE, SentimentLabel.NEUTRAL, SentimentLabel.POSITIVE)
EXTRA_FEATURES = ("vader_compound", "vader_pos", "vader_neg", "vader_neu", "question",
                  "frustration", "sarcasm", "caps", "repeated_punct", "short", "repeated_question",
                  "plain_question", "told_fact")
# Support-language cues that neither VADER nor a review-trained embedding weighs: a repeat
# contact ("second time", "again", "how many times", "asked ... three times") or a plain insult is
# a complaint even without a sentiment word. A bare "three times"/"twice" is not one ("take it
# twice a day" is common in reviews), so counts need a contact verb before them or "now"/"already".
_FRUSTRATION = re.compile(
    r"\b(again|(second|third|fourth|fifth|\d+(st|nd|rd|th)) time|fed up|sick (and tired )?of|had enough|had it with"
    r"|give up|still (no|not|nothing|waiting|hasn'?t|haven'?t|don'?t)|nobody|no one|useless|junk|rubbish|garbage"
    r"|joke|scam|ridiculous|unacceptable|waste of|pathetic|kidding me|never (works|answer|repl)"
    r"|how many (more )?times|(hundredth|umpteenth) time|(second|third|fourth|fifth|sixth|\d+(st|nd|rd|th))"
    r" (email|message|call|request)|(asked?|asking|told|emailed|called|rang|written|wrote|contacted|explained"
    r"|chased|sent)\b( \w+){0,4} (twice|(two|three|four|five|six|\d+) times)"
    r"|(twice|(two|three|four|five|six|\d+) times) (now|already)"
    # "do you people ever answer", "does anyone ever reply"
    r"|(do|does|did|will|can) (you|anyone|anybody|someone|somebody)( \w+){0,2} ever)\b", re.I)
# "Again" that asks to be reminded, not a repeat contact: "what's the return window again?", "how long was it
# again?" (a question word other than "why", "again" last).
_REMIND_AGAIN = re.compile(r"^\s*(what|which|when|where|how|who)(?:['’]?s)?\b[^?!]*\bagain\s*\?\s*$", re.I)


def frustration_cues(text: str) -> int:
    """How many frustration cues ``text`` holds, a reminder's "again" not counted."""
    return len(_FRUSTRATION.findall(text)) - (1 if _REMIND_AGAIN.match(text) else 0)


# Praise words used ironically: "oh great", "just great", "thanks for nothing", "yeah right".
_SARCASM = re.compile(r"\b(oh,? (great|wonderful|perfect|brilliant|nice)|just (great|perfect|wonderful)"
                      r"|thanks for nothing|yeah,? right|wow,? thanks|great\. another|great,? another)\b", re.I)
_REPEATED = re.compile(r"[!?]{2,}")
_WORD = re.compile(r"[^\W\d_]+")
# "??", "?!": in a support chat an impatient question, whatever the words ("HELLO??", "where is it??").
_REPEATED_QUESTION = re.compile(r"\?[!?]|[!]\?")
# A plain question: it opens with a question word (not "why"), has one "?" at the end (or none, after an opening only a question has), no
# frustration cue and is not shouted. In a product question ("are the socks itchy?", "does the
# lid leak?", "how heavy is the tent?") the attribute word is what is asked about, not a
# complaint, though VADER and the embedding read "itchy" and "leak" as negative.
_PLAIN_QUESTION = re.compile(
    r"^\s*(is|are|was|were|does|do|did|will|would|can|could|should|has|have|how|which|what|where|when|who"
    r"|any|anything|got|whats|hows|wheres|whens|whos)\b[^?!]*\?\s*$"  # "whats": typed without the apostrophe
    # Customers often leave the "?" off ("is there a warranty", "do you ship to canada"): without one,
    # only the openings that cannot start a statement ("have been waiting…", "got a broken lamp" can).
    r"|^\s*((is|are) (there|it|this|that|the|my)|(do|does|did|can|could|will|would|should) (you|i|we|it|they|the|this|my)"
    r"|(how|what|where|when|which) (do|does|did|is|are|can|long|much|many|if|happens))\b[^?!]{0,80}$", re.I)
# A told fact addressed to nobody: "my dog is allergic to chicken" reads as a complaint to the
# embedding and to VADER ("allergic", "hates", "can't stand"), but "my dog hates your food" is one.
_ADDRESSES_US = re.compile(r"\b(you|your|yours|u|ur)\b", re.I)
_NOW = datetime(2000, 1, 1, tzinfo=timezone.utc)  # stated_facts stamps facts with a time; unused here


@lru_cache(maxsize=1)
def _vader():
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    return SentimentIntensityAnalyzer()


def extra_features(texts: list[str]) -> np.ndarray:
    """The non-embedding features (``EXTRA_FEATURES``), unscaled: VADER compound/pos/neg/neu,
    is-a-question, frustration and sarcasm cue counts, share of letters in all-caps words,
    repeated ``!``/``?``, shortness (greetings and "ok" carry no polarity whatever the lexicon
    says), ``??`` (an impatient question) and a plain question (opens with a question word other
    than "why", one ``?``, no frustration cue, not shouted)."""
    from bot.customers.preferences import stated_facts
    from bot.customers.told import told_about_themselves

    analyzer = _vader()
    out = np.zeros((len(texts), len(EXTRA_FEATURES)), dtype=np.float32)
    for i, text in enumerate(texts):
        scores = analyzer.polarity_scores(text)
        caps = shouted_share(text)
        frustrated = min(frustration_cues(text), 3)
        out[i] = (
            scores["compound"],
            scores["pos"],
            scores["neg"],
            scores["neu"],
            1.0 if text.rstrip().endswith("?") else 0.0,
            frustrated,
            min(len(_SARCASM.findall(text)), 2),
            caps,
            1.0 if _REPEATED.search(text) else 0.0,
            1.0 if len(text.split()) <= 2 else 0.0,
            1.0 if _REPEATED_QUESTION.search(text) else 0.0,
            1.0 if _PLAIN_QUESTION.match(text) and not frustrated and caps < 0.5 else 0.0,
            1.0 if not frustrated and not _ADDRESSES_US.search(text)
            and (told_about_themselves(text) or stated_facts(text, _NOW)) else 0.0,
        )
    return out


def shouted_share(text: str) -> float:
    """The share of letters in all-caps words of 2+ letters ("WHERE IS MY LAMP"), so ordinary
    capitalisation ("I", "Monday") counts nothing; 0 under four letters."""
    letters = sum(c.isalpha() for c in text)
    shouted = sum(len(w) for w in _WORD.findall(text) if len(w) >= 2 and w.isupper())
    return shouted / letters if letters >= 4 else 0.0


# VADER's compound at or below this: the words themselves carry the feeling ("furious", "terrible").
UPSET_WORDS_COMPOUND = -0.4


def sounds_upset(text: str) -> bool:
    """Whether the words carry feeling, not only a problem: a frustration or sarcasm cue, shouting, "!!"
    or "??", or feeling words (VADER). "it doesn't fit" scores as negative as anger (-0.73: reviews say
    it of products they hate) yet is a plain problem to solve; "WHERE IS MY HUB??? third time" is upset."""
    return bool(frustration_cues(text) or _SARCASM.search(text) or _REPEATED.search(text)
                or shouted_share(text) >= 0.5
                or _vader().polarity_scores(text)["compound"] <= UPSET_WORDS_COMPOUND)


class EmbeddingSentimentScorer:
    """Implements ``SentimentScorer``: ``score(text)``; plus ``score_embedding`` and ``score_batch``.

    ``embedder`` defaults to the shared MiniLM from :func:`bot.embedder.load_embedder`; it is only
    loaded when a method without a precomputed embedding is called.
    """

    def __init__(self, model_path: str | Path | None = None, embedder: Any = None) -> None:
        path = Path(model_path) if model_path else MODEL_PATH
        if not path.exists():
            raise RapportError(
                f"the sentiment model {path} is missing", fix="run scripts/train_sentiment.py to build it"
            )
        with np.load(path, allow_pickle=False) as data:
            self._weights = data["weights"].astype(np.float32)  # (3, 384 + 5)
            self._bias = data["bias"].astype(np.float32)  # (3,)
            self._mean = data["extra_mean"].astype(np.float32)
            self._scale = data["extra_scale"].astype(np.float32)
            self.meta: dict[str, Any] = json.loads(str(data["meta"]))
        if tuple(self.meta.get("extra_features", EXTRA_FEATURES)) != EXTRA_FEATURES:
            raise RapportError(f"{path} was trained with other features", fix="retrain with scripts/train_sentiment.py")
        # |score| below this band is neutral, so the label follows the score (chosen on validation).
        self.neutral_band: float | None = self.meta.get("neutral_band")
        classes = tuple(self.meta.get("classes", [c.value for c in CLASSES]))
        if classes != tuple(c.value for c in CLASSES):
            raise RapportError(f"unexpected classes {classes} in {path}", fix="retrain with scripts/train_sentiment.py")
        self.dimension = self._weights.shape[1] - len(EXTRA_FEATURES)
        self._embedder = embedder

    def _get_embedder(self):
        if self._embedder is None:
            from bot.embedder import load_embedder

            self._embedder = load_embedder()
        return self._embedder

    # ------------------------------------------------------------------------------ scoring
    def probabilities(self, texts: list[str], embeddings: np.ndarray | None = None) -> np.ndarray:
        """(N, 3) probabilities for negative, neutral, positive."""
        if not texts:
            return np.zeros((0, 3), dtype=np.float32)
        if embeddings is None:
            embeddings = self._get_embedder().embed(list(texts))
        embeddings = np.asarray(embeddings, dtype=np.float32).reshape(len(texts), -1)
        if embeddings.shape[1] != self.dimension:
            raise RapportError(
                f"the sentiment model expects {self.dimension}-d embeddings, got {embeddings.shape[1]}",
                fix="use the all-MiniLM-L6-v2 embedder",
            )
        extra = (extra_features(list(texts)) - self._mean) / self._scale
        logits = np.hstack([embeddings, extra]) @ self._weights.T + self._bias
        logits -= logits.max(axis=1, keepdims=True)
        p = np.exp(logits)
        return p / p.sum(axis=1, keepdims=True)

    def score_batch(self, texts: list[str], embeddings: np.ndarray | None = None) -> list[Sentiment]:
        return [to_sentiment(p, self.neutral_band) for p in self.probabilities(texts, embeddings)]

    def score_embedding(self, text: str, embedding: np.ndarray) -> Sentiment:
        """Score with the message's precomputed (L2-normalised MiniLM) embedding: no model call."""
        return self.score_batch([text], np.asarray(embedding, dtype=np.float32).reshape(1, -1))[0]

    def score(self, text: str) -> Sentiment:
        return self.score_batch([text])[0]


def to_sentiment(p: np.ndarray, band: float | None) -> Sentiment:
    """Label, score = P(positive) - P(negative), confidence = the label's class probability.

    With a ``band`` the label is read off the score (negative below -band, positive above it),
    so a higher score never has a less positive label; without one (older model files) it is
    the most probable class.
    """
    score = float(np.clip(p[2] - p[0], -1.0, 1.0))
    if band is None:
        index = int(p.argmax())
    else:
        index = 0 if score <= -band else 2 if score >= band else 1
    return Sentiment(CLASSES[index], round(score, 4), round(float(p[index]), 3))


def save_model(
    path: str | Path,
    weights: np.ndarray,
    bias: np.ndarray,
    extra_mean: np.ndarray,
    extra_scale: np.ndarray,
    meta: dict[str, Any],
) -> None:
    """Write the weights as a small compressed .npz (float32, no pickles)."""
    meta = {"classes": [c.value for c in CLASSES], "extra_features": list(EXTRA_FEATURES), **meta}
    np.savez_compressed(
        path,
        weights=np.asarray(weights, dtype=np.float32),
        bias=np.asarray(bias, dtype=np.float32),
        extra_mean=np.asarray(extra_mean, dtype=np.float32),
        extra_scale=np.asarray(extra_scale, dtype=np.float32),
        meta=np.array(json.dumps(meta, sort_keys=True)),
    )


@lru_cache(maxsize=1)
def load_sentiment_scorer() -> EmbeddingSentimentScorer:
    """One scorer per process, sharing the process's MiniLM embedder."""
    return EmbeddingSentimentScorer()
