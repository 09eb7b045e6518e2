"""3. understand: embed the message once, score its sentiment, spot greetings, thanks and requests for a person."""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass

import numpy as np

from bot.embedder import Embedder
from bot.sentiment import SentimentScorer
from bot.types import Inbound, Sentiment

_GREETING = re.compile(
    r"^\s*(hi|hello|hey|hiya|howdy|yo|good (morning|afternoon|evening)|greetings)\b[\s\w]{0,20}[!.?]*\s*$", re.I
)
_THANKS = re.compile(r"^\s*((ok(ay)?|great|perfect|cool|awesome)[,!.]?\s*)?(thanks|thank you|thx|ty|cheers)\b.{0,30}$", re.I)
_REQUEST_VERB = r"(talk|speak|chat|connect|transfer|put me through|get|want|need|give me|escalate)"


@dataclass(frozen=True, slots=True)
class Understanding:
    text: str
    # Computed once here and reused by every later stage (recall, recommend, remember).
    embedding: np.ndarray
    sentiment: Sentiment
    is_greeting: bool
    is_thanks: bool
    wants_human: bool


class Understand:
    def __init__(self, embedder: Embedder, scorer: SentimentScorer, human_phrases: list[str]) -> None:
        self._embedder = embedder
        self._scorer = scorer
        phrases = "|".join(re.escape(p) for p in sorted(human_phrases, key=len, reverse=True))
        self._wants_human = re.compile(rf"\b{_REQUEST_VERB}\b.*\b({phrases})\b|^\s*({phrases})\s*[!.?]*\s*$", re.I)

    async def __call__(self, inbound: Inbound) -> Understanding:
        text = inbound.text.strip()
        # One thread hop for both models keeps the event loop free and the overhead low.
        embedding, sentiment = await asyncio.to_thread(self._models, text)
        return Understanding(
            text=text,
            embedding=embedding,
            sentiment=sentiment,
            is_greeting=bool(_GREETING.match(text)),
            is_thanks=bool(_THANKS.match(text)),
            wants_human=bool(self._wants_human.search(text)),
        )

    def _models(self, text: str) -> tuple[np.ndarray, Sentiment]:
        return self._embedder.embed([text or " "])[0], self._scorer.score(text)
