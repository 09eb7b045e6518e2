"""The BANKING77 feedback replay (``rapport eval feedback``): does the bot answer better after
customers vote on its answers, on questions nobody voted on?

Each of the 77 intents becomes one answer section: its name and a few training questions, embedded
with the project's embedder. A question is answered with the top-1 section by cosine, moved by the
votes through the bot's own scorer (``bot.learning.scorer.VoteBook``, the code ``KnowledgeBase.search``
calls). Simulated customers (each a distinct id, a few questions each) ask training questions not
used in any section; they click 👍 when the answer is their question's intent and 👎 when it is not.
A round's votes land at its end. After every round of voting, top-1 accuracy is measured on a held-out sample of the test split, asked
by a customer who never voted (so only agreed votes can help), beside the same questions without
learning. Retrieval is the dense cosine alone here: the keyword half of the bot's search indexes
pages, not these synthetic sections. Everything is subsampled with a fixed seed and said so.
"""

from __future__ import annotations

import csv
import random
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from bot.learning.scorer import LearningRules, SectionKey, Vote, VoteBook

SOURCE = "banking77"  # every section's page; an intent's chunk is its index
NEWCOMER = -1  # the held-out questions' asker: has never voted


def _rows(path: Path) -> list[tuple[str, str]]:
    with path.open(newline="", encoding="utf-8") as handle:
        return [(row["text"].strip(), row["category"].strip()) for row in csv.DictReader(handle) if row.get("text")]


def replay_feedback(data: Path, embed: Callable[[list[str]], np.ndarray], rules: LearningRules, rounds: int = 5,
                    voting_questions: int = 2000, held_out: int = 1000, per_customer: int = 5,
                    examples_per_section: int = 3, seed: int = 0) -> dict[str, Any]:
    started = time.perf_counter()
    rng = random.Random(seed)
    train, test = _rows(data / "train.csv"), _rows(data / "test.csv")
    by_intent: dict[str, list[str]] = defaultdict(list)
    for text, intent in train:
        by_intent[intent].append(text)
    intents = sorted(by_intent)
    chunk_of = {intent: i for i, intent in enumerate(intents)}
    used: set[str] = set()
    sections = []
    for intent in intents:
        examples = rng.sample(by_intent[intent], min(examples_per_section, len(by_intent[intent])))
        used.update(examples)
        sections.append(intent.replace("_", " ") + ". " + " ".join(examples))
    pool = [(t, i) for t, i in train if t not in used]
    voting = rng.sample(pool, min(voting_questions, len(pool)))
    evaluation = rng.sample(test, min(held_out, len(test)))
    vectors = embed(sections + [t for t, _ in voting] + [t for t, _ in evaluation]).astype(np.float32)
    section_vectors = vectors[: len(sections)]
    voting_vectors = vectors[len(sections): len(sections) + len(voting)]
    held_vectors = vectors[len(sections) + len(voting):]
    keys: list[SectionKey] = [(SOURCE, i) for i in range(len(intents))]
    now = datetime.now(UTC)
    book = VoteBook(rules, dimension=vectors.shape[1])

    def answer(query: np.ndarray, customer: int, learn: bool) -> int:
        scores = section_vectors @ query
        if not learn:
            return int(np.argmax(scores))
        ranked = book.rerank(query, list(zip(scores.tolist(), keys)), customer, now)
        return ranked[0][1][1]

    def accuracy(learn: bool) -> float:
        right = sum(answer(q, NEWCOMER, learn) == chunk_of[intent] for q, (_, intent) in zip(held_vectors, evaluation))
        return right / len(evaluation)

    baseline = accuracy(learn=False)
    with_learning, without_learning, votes_cast = [accuracy(learn=True)], [baseline], [0]
    per_round = max(1, len(voting) // max(1, rounds))
    customer = 0
    for r in range(rounds):
        batch = range(r * per_round, min(len(voting), (r + 1) * per_round))
        cast = []
        for n, i in enumerate(batch):
            if n % per_customer == 0:
                customer += 1  # a new customer every few questions
            intent = voting[i][1]
            given = answer(voting_vectors[i], customer, learn=True)
            cast.append(Vote(customer, keys[given], 1 if given == chunk_of[intent] else -1, voting_vectors[i], now))
        # A round's customers all ask against the votes before it; theirs land together at its end
        # (the book rebuilds its arrays once per round, not once per vote).
        for vote in cast:
            book.add(vote)
        with_learning.append(accuracy(learn=True))
        without_learning.append(accuracy(learn=False))
        votes_cast.append(len(book))
    return {
        "dataset": "BANKING77",
        "sections": len(intents),
        "examples_per_section": examples_per_section,
        "voting_questions": len(voting),
        "held_out_questions": len(evaluation),
        "customers": customer,
        "per_customer": per_customer,
        "seed": seed,
        "rules": asdict(rules),
        "rounds": rounds,
        "votes_by_round": votes_cast,
        "accuracy_by_round": with_learning,
        "control_accuracy_by_round": without_learning,
        "seconds": round(time.perf_counter() - started, 1),
    }


def run_replay(data: Path, rounds: int = 5, voting_questions: int = 2000, held_out: int = 1000,
               seed: int = 0, config_path: Path | None = None) -> dict[str, Any]:
    """The replay with the configured embedder and learning rules (``config.yaml``'s ``learning:``)."""
    from bot.config import load_config
    from bot.embedder import load_embedder
    from bot.learning.answers import rules_from

    config = load_config(config_path)
    embedder = load_embedder(config.models.embedder)
    return replay_feedback(data, embedder.embed, rules_from(config.learning), rounds=rounds,
                           voting_questions=voting_questions, held_out=held_out, seed=seed)
