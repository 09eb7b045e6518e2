#!/usr/bin/env python
"""Intent-classification benchmarks on BANKING77 (Casanueva et al., 2020, CC BY 4.0).

    .venv/bin/python bench/eval_intents.py                 # the default classifier: train.csv -> test.csv
    .venv/bin/python bench/eval_intents.py --sweep         # every cheap configuration, val + test
    .venv/bin/python bench/eval_intents.py --oos           # out-of-scope: 10 intents held out as oos
    .venv/bin/python bench/eval_intents.py --finetune 4    # fine-tune MiniLM 4 epochs (torch==2.13.0)

Data: /work/shared/data/banking77 (or --data DIR): train.csv 10,003 rows, test.csv 3,080 rows,
77 intents. Casanueva, Temčinas, Gerz, Henderson, Vulić: *Efficient Intent Detection with Dual
Sentence Encoders*, NLP4ConvAI @ ACL 2020.

Configurations are compared on a stratified 10 % validation slice of train.csv (seed 0), trained
on the other 90 %; the test figure is from training on all of train.csv. All times are wall-clock
on this machine (2 cores), embedding included where a column says so.
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

from bot.nlp.intents import (
    OOS,
    IntentClassifier,
    evaluate_intents,
    read_examples_csv,
    score_predictions,
)

DATA = Path("/work/shared/data/banking77")


def split_validation(labels: list[str], fraction: float = 0.1, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    y = np.asarray(labels)
    held = np.zeros(len(y), dtype=bool)
    for label in sorted(set(labels)):
        index = np.flatnonzero(y == label)
        held[rng.choice(index, size=max(1, round(len(index) * fraction)), replace=False)] = True
    return held


def sweep(data: Path) -> list[dict]:
    from scipy.sparse import csr_matrix, hstack
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.svm import LinearSVC

    from bot.embedder import load_embedder

    tr_texts, tr_labels = read_examples_csv(data / "train.csv")
    te_texts, te_labels = read_examples_csv(data / "test.csv")
    embedder = load_embedder()
    t0 = time.perf_counter()
    tr_x = embedder.embed(tr_texts)
    embed_train = time.perf_counter() - t0
    te_x = embedder.embed(te_texts)
    held = split_validation(tr_labels)
    tr_texts_a, tr_y = np.asarray(tr_texts), np.asarray(tr_labels)

    def tfidf(train_texts, other_texts, word=(1, 2), char=(2, 5)):
        w = TfidfVectorizer(ngram_range=word, sublinear_tf=True).fit(train_texts)
        c = TfidfVectorizer(analyzer="char_wb", ngram_range=char, sublinear_tf=True, min_df=2).fit(train_texts)
        return [hstack([w.transform(t), c.transform(t)]).tocsr() for t in (train_texts, other_texts)]

    def knn(train_x, train_y, other_x, k):
        sims = other_x @ train_x.T
        classes = np.unique(train_y)
        top = np.argsort(-sims, axis=1)[:, :k]
        votes = np.zeros((len(other_x), len(classes)))
        index = np.searchsorted(classes, train_y)
        for j in range(k):
            np.add.at(votes, (np.arange(len(other_x)), index[top[:, j]]), sims[np.arange(len(other_x)), top[:, j]])
        return classes[votes.argmax(1)]

    def embedding_model(model):
        def run(a, ay, b, ax, bx):
            return model().fit(ax, ay).predict(bx)

        return run

    def sparse_model(model, weight: float | None, char=(2, 5)):
        """TF-IDF blocks, plus the embedding times ``weight`` unless it is None."""

        def run(a, ay, b, ax, bx):
            fa, fb = tfidf(a, b, char=char)
            if weight is not None:
                fa = hstack([fa, csr_matrix(ax * weight)]).tocsr()
                fb = hstack([fb, csr_matrix(bx * weight)]).tocsr()
            return model().fit(fa, ay).predict(fb)

        return run

    def svc(c):
        return lambda: LinearSVC(C=c)

    configs = {
        "MiniLM emb + LogisticRegression C=10": embedding_model(lambda: LogisticRegression(C=10, max_iter=3000)),
        "MiniLM emb + LinearSVC C=1": embedding_model(svc(1.0)),
        "MiniLM emb kNN k=1 (cosine)": lambda a, ay, b, ax, bx: knn(ax, ay, bx, 1),
        "MiniLM emb kNN k=5 (cosine-weighted)": lambda a, ay, b, ax, bx: knn(ax, ay, bx, 5),
        "TF-IDF word1-2 + char2-5, LinearSVC C=0.5": sparse_model(svc(0.5), None),
    }
    for weight in (1.0, 2.0, 3.0):
        configs[f"TF-IDF + emb x{weight:g}, LinearSVC C=0.5"] = sparse_model(svc(0.5), weight)
    configs["TF-IDF word1-2 + char1-4 + emb x2, LinearSVC C=0.5"] = sparse_model(svc(0.5), 2.0, char=(1, 4))
    configs["TF-IDF + emb x2, LogisticRegression C=20"] = sparse_model(
        lambda: LogisticRegression(C=20, max_iter=3000), 2.0
    )

    rows = []
    for name, run in configs.items():
        pred_val = run(tr_texts_a[~held], tr_y[~held], tr_texts_a[held], tr_x[~held], tr_x[held])
        t0 = time.perf_counter()
        pred_test = run(tr_texts_a, tr_y, np.asarray(te_texts), tr_x, te_x)
        fit_seconds = time.perf_counter() - t0
        val = score_predictions(list(tr_y[held]), list(pred_val))
        test = score_predictions(te_labels, list(pred_test))
        row = {
            "config": name,
            "val_accuracy": val["accuracy"],
            "test_accuracy": test["accuracy"],
            "test_macro_f1": test["macro_f1"],
            "fit_seconds": round(fit_seconds, 1),
            "train_seconds_with_embedding": round(fit_seconds + embed_train, 1),
        }
        print(json.dumps(row), file=sys.stderr, flush=True)
        rows.append(row)
    return rows


def oos_experiment(data: Path, held_out: int = 10, seed: int = 0, thresholds=(0.3, 0.5, 0.6, 0.7, 0.8, 0.9)) -> dict:
    """Hold ``held_out`` intents out of training; their test rows become ``oos``."""
    from bot.embedder import load_embedder

    tr_texts, tr_labels = read_examples_csv(data / "train.csv")
    te_texts, te_labels = read_examples_csv(data / "test.csv")
    rng = np.random.default_rng(seed)
    unknown = set(rng.choice(sorted(set(tr_labels)), size=held_out, replace=False).tolist())
    keep = [i for i, label in enumerate(tr_labels) if label not in unknown]
    embedder = load_embedder()
    model = IntentClassifier(embedder=embedder).fit([tr_texts[i] for i in keep], [tr_labels[i] for i in keep])
    gold = [OOS if label in unknown else label for label in te_labels]
    vectors = embedder.embed(te_texts)
    scores = model.decision_scores(te_texts, vectors)
    best = model.labels_[scores.argmax(1)]
    top = model.confidences(scores)
    is_oos = np.array([g == OOS for g in gold])
    # threshold-free: probability that a random oos message gets lower confidence than a random in-scope one
    ranks = np.argsort(np.argsort(top)) + 1
    auroc = (ranks[~is_oos].sum() - (~is_oos).sum() * ((~is_oos).sum() + 1) / 2) / ((~is_oos).sum() * is_oos.sum())
    rows = []
    for threshold in thresholds:
        pred = [OOS if p < threshold else b for b, p in zip(best, top)]
        rows.append({"threshold": threshold, **score_predictions(gold, pred)})
    return {
        "held_out_intents": sorted(unknown),
        "n_train": len(keep),
        "n_test_inscope": int((~is_oos).sum()),
        "n_test_oos": int(is_oos.sum()),
        "calibration": [round(float(v), 3) for v in model.calibration],
        "auroc_inscope_vs_oos": round(float(auroc), 4),
        "rows": rows,
    }


def finetune(data: Path, epochs: int) -> dict:
    from bot.nlp.finetune import finetune_encoder

    tr_texts, tr_labels = read_examples_csv(data / "train.csv")
    started = time.perf_counter()
    encoder = finetune_encoder(tr_texts, tr_labels, epochs=epochs, log=lambda m: print(m, file=sys.stderr))
    tune_seconds = time.perf_counter() - started
    result = evaluate_intents(data / "train.csv", data / "test.csv", classifier=IntentClassifier(embedder=encoder))
    result["finetune_seconds"] = round(tune_seconds, 1)
    result["train_seconds_total"] = round(tune_seconds + result["train_seconds"], 1)
    result["config"] = f"MiniLM fine-tuned {epochs} epochs (torch CPU) + TF-IDF + emb x2, LinearSVC C=0.5"
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--sweep", action="store_true")
    parser.add_argument("--oos", action="store_true")
    parser.add_argument("--finetune", type=int, metavar="EPOCHS", default=0)
    args = parser.parse_args()
    if args.sweep:
        rows = sweep(args.data)
        print("| configuration | val acc (10% of train) | test acc | test macro-F1 | fit s | train s incl. embedding |")
        print("|---|---|---|---|---|---|")
        for r in rows:
            print(f"| {r['config']} | {r['val_accuracy']:.4f} | {r['test_accuracy']:.4f} | {r['test_macro_f1']:.4f} "
                  f"| {r['fit_seconds']} | {r['train_seconds_with_embedding']} |")
        return 0
    if args.oos:
        print(json.dumps(oos_experiment(args.data), indent=2))
        return 0
    if args.finetune:
        print(json.dumps(finetune(args.data, args.finetune), indent=2))
        return 0
    print(json.dumps(evaluate_intents(args.data / "train.csv", args.data / "test.csv"), indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
