"""How answer votes move a knowledge section for a new question: the one scorer the bot and the
BANKING77 replay (``rapport eval feedback``) both use.

A vote counts for a query only when the question it was cast on means about the same (cosine of
the two unit vectors at or above ``similarity``), and it fades: weight ``0.5 ** (age / half_life)``.
The voter's own votes move the section for them at once (``own_shift``: a 👎 all but removes it).
Everyone else is moved only once at least ``agree`` different customers' votes on that section,
for similar questions, agree in sign (net: ups minus downs), so one customer, however often they
vote, never moves anyone else's answer. Each customer holds one vote per section (a later one
replaces it), which the book enforces as the store does.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

import numpy as np

SectionKey = tuple[str, int]  # (page path, chunk): one knowledge section
# A vote weighing less than this (three half-lives old) is no longer counted towards agreement.
FADED = 0.125


@dataclass(frozen=True, slots=True)
class LearningRules:
    agree: int = 3  # different customers who must agree before a section moves for everyone
    half_life_days: float = 30.0
    similarity: float = 0.7  # cosine between two questions for a vote on one to count for the other
    shift: float = 0.15  # the most agreed votes move a section's score, for everyone
    own_shift: float = 0.5  # how far a customer's own vote moves the section for them


@dataclass(frozen=True, slots=True)
class Vote:
    customer_id: int
    section: SectionKey
    polarity: int  # +1 or -1
    question: np.ndarray  # float32 unit vector of the question the section answered
    at: datetime  # when cast (or last replaced)


class VoteBook:
    """Every answer vote in memory, as arrays, so scoring a turn's candidates is a few numpy passes."""

    def __init__(self, rules: LearningRules, dimension: int = 384) -> None:
        self.rules = rules
        self._dimension = dimension
        self._votes: dict[tuple[int, SectionKey], Vote] = {}
        self._arrays: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, list[SectionKey]] | None = None

    def __len__(self) -> int:
        return len(self._votes)

    def replace_all(self, votes: Iterable[Vote]) -> None:
        self._votes = {}
        for vote in votes:
            self._put(vote)
        self._arrays = None

    def add(self, vote: Vote) -> None:
        """Record a vote; it replaces the customer's earlier vote on the same section."""
        self._put(vote)
        self._arrays = None

    def forget(self, customer_id: int) -> None:
        self._votes = {k: v for k, v in self._votes.items() if k[0] != customer_id}
        self._arrays = None

    def _put(self, vote: Vote) -> None:
        self._votes[(vote.customer_id, vote.section)] = vote

    def _built(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, list[SectionKey]]:
        if self._arrays is None:
            votes = list(self._votes.values())
            sections = sorted({v.section for v in votes})
            index = {key: i for i, key in enumerate(sections)}
            questions = (np.stack([np.asarray(v.question, dtype=np.float32) for v in votes]) if votes
                         else np.zeros((0, self._dimension), dtype=np.float32))
            self._arrays = (
                questions,
                np.array([index[v.section] for v in votes], dtype=np.int64),
                np.array([v.customer_id for v in votes], dtype=np.int64),
                np.array([v.polarity for v in votes], dtype=np.float64),
                np.array([v.at.timestamp() for v in votes], dtype=np.float64),
                sections,
            )
        return self._arrays

    def adjustments(self, query: np.ndarray, sections: Sequence[SectionKey], customer_id: int | None,
                    now: datetime) -> np.ndarray:
        """How much to add to each of ``sections``' scores for this query and this customer."""
        result = np.zeros(len(sections), dtype=np.float64)
        if not self._votes or not sections:
            return result
        questions, section_of, customers, polarity, at, known = self._built()
        position = {key: i for i, key in enumerate(known)}
        wanted = np.array([position.get(key, -1) for key in sections], dtype=np.int64)
        if not (wanted >= 0).any():
            return result
        similar = questions @ np.asarray(query, dtype=np.float32) >= self.rules.similarity
        half_life = self.rules.half_life_days * 86400.0
        weight = np.power(0.5, np.maximum(0.0, now.timestamp() - at) / half_life)
        live = similar & (weight >= FADED)
        count = len(known)
        # Per section: decayed net strength, and how many customers vote each way (one row each).
        strength = np.bincount(section_of[live], weights=(polarity * weight)[live], minlength=count)
        net_customers = np.bincount(section_of[live], weights=polarity[live], minlength=count)
        agreed = np.abs(net_customers) >= self.rules.agree
        everyone = np.where(agreed, self.rules.shift * np.clip(strength / self.rules.agree, -1.0, 1.0), 0.0)
        own = np.zeros(count)
        if customer_id is not None:
            mine = live & (customers == customer_id)
            own = self.rules.own_shift * np.bincount(section_of[mine], weights=(polarity * weight)[mine], minlength=count)
        found = wanted >= 0
        result[found] = everyone[wanted[found]] + own[wanted[found]]
        return result

    def rerank(self, query: np.ndarray, scored: Sequence[tuple[float, SectionKey]], customer_id: int | None,
               now: datetime) -> list[tuple[float, SectionKey]]:
        """``(score, section)`` pairs moved by the votes, clipped to [0, 1], best first."""
        shifts = self.adjustments(query, [key for _, key in scored], customer_id, now)
        moved = [(float(min(1.0, max(0.0, score + shift))), key) for (score, key), shift in zip(scored, shifts)]
        return sorted(moved, key=lambda item: -item[0])
