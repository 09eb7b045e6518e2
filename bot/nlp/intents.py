"""Intent classification with out-of-scope detection, trained from ``text,label`` examples.

The model is one linear SVM over three blocks of features, all cheap on a CPU:

* word 1-2-gram TF-IDF (sublinear tf),
* character 1-4-gram TF-IDF within word boundaries (robust to typos and inflections),
* the message's all-MiniLM-L6-v2 sentence embedding (from :mod:`bot.embedder`), scaled by
  ``embedding_weight`` so that it weighs about as much as the two sparse blocks.

On BANKING77 (Casanueva et al., 2020) this reaches 94.2 % test accuracy, trained in about
50-100 s on two CPU cores (most of it embedding the 10,003 training sentences);
see ``bench/eval_intents.py`` for the numbers and every configuration that was tried.

Confidence is the probability that the top intent is right, from a logistic fit (on a
held-out slice of the training set) of the SVM's top decision value and its margin over the
runner-up; with too few examples to hold any out, a fixed mapping puts 0.5 at the SVM's
decision boundary. A message that no intent claims (every decision value negative) therefore
gets a low confidence, which a softmax over the scores would hide.
A prediction whose confidence is below ``threshold`` is labelled ``oos`` (out of scope).
Training examples labelled ``oos`` are kept as an ordinary class, so a training set with
explicit out-of-scope examples teaches the model what they look like.

Nothing here needs torch or the network.
"""

from __future__ import annotations

import csv
import pickle
import time
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from bot.errors import RapportError

if TYPE_CHECKING:
    from bot.nlp.intent_model import LinearIntentModel

OOS = "oos"
LABEL_COLUMNS = ("label", "intent", "category")

# confidence = sigmoid(a * top_score + b * (top_score - second_score) + c); this default (used when
# the training set is too small to fit one, see _fit_calibration) puts 0.5 at the SVM's boundary.
DEFAULT_CALIBRATION = np.array([5.0, 0.0, 0.0])
DEFAULT_THRESHOLD = 0.5
THRESHOLD_GRID = np.round(np.arange(0.05, 0.96, 0.05), 2)


@dataclass(frozen=True, slots=True)
class IntentPrediction:
    """``label`` is ``oos`` when ``confidence`` is below the threshold; ``best`` is the top intent anyway."""

    label: str
    confidence: float
    best: str

    def __iter__(self):  # lets callers write ``label, confidence = prediction``
        yield self.label
        yield self.confidence


def read_examples_csv(path: str | Path) -> tuple[list[str], list[str]]:
    """Read ``text,label`` rows. The label column may be named label, intent or category; a file
    without a header row is read as two columns, text then label."""
    path = Path(path)
    if not path.exists():
        raise RapportError(f"no examples file at {path}", fix="pass the path of a CSV with text,label rows")
    with open(path, encoding="utf-8", newline="") as handle:
        rows = [row for row in csv.reader(handle) if row and any(cell.strip() for cell in row)]
    if not rows:
        raise RapportError(f"{path} has no rows", fix="add text,label rows")
    header = [cell.strip().lower() for cell in rows[0]]
    text_col, label_col, body = 0, 1, rows
    if "text" in header:
        text_col = header.index("text")
        found = next((header.index(name) for name in LABEL_COLUMNS if name in header), None)
        if found is None:
            raise RapportError(f"{path} has a text column but no label column", fix="name it label")
        label_col = found
        body = rows[1:]
    texts, labels = [], []
    for line, row in enumerate(body, start=2 if body is not rows else 1):
        if len(row) <= max(text_col, label_col):
            raise RapportError(f"{path}:{line} has fewer than two columns", fix="write text,label")
        text, label = row[text_col].strip(), row[label_col].strip()
        if text and label:
            texts.append(text)
            labels.append(label)
    return texts, labels


def predictions(labels: Sequence[str], scores: np.ndarray, confidences: np.ndarray,
                threshold: float) -> list[IntentPrediction]:
    """One prediction per row of decision ``scores``: the top label, or ``oos`` below ``threshold``
    (shared by the training classifier and the served numpy model, so both decide alike)."""
    out = []
    for row, conf in zip(scores, confidences, strict=True):
        best, conf = str(labels[int(row.argmax())]), float(conf)
        out.append(IntentPrediction(OOS if conf < threshold else best, round(conf, 4), best))
    return out


def _confidences(calibration: np.ndarray, scores: np.ndarray) -> np.ndarray:
    a, b, c = calibration
    f = _confidence_features(scores)
    return 1.0 / (1.0 + np.exp(-(a * f[:, 0] + b * f[:, 1] + c)))


def _choose_threshold(gold: np.ndarray, best: np.ndarray, confidence: np.ndarray) -> float:
    """The confidence threshold maximising in-scope accuracy + oos recall on held-out examples.

    Used when the training set has ``oos`` examples, so the held-out slice has some: picking
    the threshold there, not on a test set, keeps the test figures honest. Ties go to the
    lower threshold (fewer in-scope messages refused).
    """
    is_oos = gold == OOS
    best_value, chosen = -1.0, DEFAULT_THRESHOLD
    for threshold in THRESHOLD_GRID:
        predicted = np.where(confidence < threshold, OOS, best)
        accuracy = float((predicted[~is_oos] == gold[~is_oos]).mean()) if (~is_oos).any() else 0.0
        recall = float((predicted[is_oos] == OOS).mean())
        if accuracy + recall > best_value + 1e-9:
            best_value, chosen = accuracy + recall, float(threshold)
    return round(chosen, 2)


def _confidence_features(scores: np.ndarray) -> np.ndarray:
    """Per row: the top decision value and its margin over the second."""
    top2 = np.sort(scores, axis=1)[:, -2:] if scores.shape[1] > 1 else np.hstack([scores, scores])
    return np.stack([top2[:, 1], top2[:, 1] - top2[:, 0]], axis=1)


class IntentClassifier:
    """Train with :meth:`fit` (or :meth:`fit_csv` / :meth:`fit_examples`), then :meth:`predict`.

    ``embedder`` is anything with ``embed(list[str]) -> np.ndarray`` (default: the shared
    MiniLM from :func:`bot.embedder.load_embedder`); ``embedder=False`` uses TF-IDF alone.
    """

    def __init__(
        self,
        threshold: float = DEFAULT_THRESHOLD,
        *,
        embedder: Any = None,
        embedding_weight: float = 2.0,
        c: float = 0.5,
        word_ngrams: tuple[int, int] = (1, 2),
        char_ngrams: tuple[int, int] = (1, 4),
        calibrate: bool = True,
        seed: int = 0,
    ) -> None:
        self.threshold = threshold
        self._embedder = embedder
        self.embedding_weight = embedding_weight
        self.c = c
        self.word_ngrams = word_ngrams
        self.char_ngrams = char_ngrams
        self.calibrate = calibrate
        self.seed = seed
        self.calibration = DEFAULT_CALIBRATION
        # Chosen on the held-out slice when the training set has ``oos`` examples (else None).
        self.validated_threshold: float | None = None
        self.labels_: Any = None  # np.ndarray of label names once trained
        self.train_seconds: float | None = None
        self._word: Any = None
        self._char: Any = None
        self._svm: Any = None

    # ----------------------------------------------------------------------------- training
    @property
    def uses_embeddings(self) -> bool:
        return self._embedder is not False

    def _get_embedder(self):
        if self._embedder is None:
            from bot.embedder import load_embedder

            self._embedder = load_embedder()
        return self._embedder

    def embed(self, texts: Sequence[str]) -> np.ndarray | None:
        if not self.uses_embeddings:
            return None
        return np.asarray(self._get_embedder().embed(list(texts)), dtype=np.float32)

    def fit_csv(self, path: str | Path) -> IntentClassifier:
        return self.fit(*read_examples_csv(path))

    def fit_examples(self, examples: Mapping[str, Iterable[str]]) -> IntentClassifier:
        """Train from ``{"label": ["example", ...], ...}``."""
        texts, labels = [], []
        for label, items in examples.items():
            for text in items:
                texts.append(text)
                labels.append(label)
        return self.fit(texts, labels)

    def fit(
        self, texts: Sequence[str], labels: Sequence[str], embeddings: np.ndarray | None = None
    ) -> IntentClassifier:
        """Train on parallel lists; ``embeddings`` (N x d) may be passed when already computed."""
        if len(texts) != len(labels) or not texts:
            raise RapportError("intent training needs as many labels as texts, and at least one", fix="check the CSV")
        if len(set(labels)) < 2:
            raise RapportError("intent training needs at least two different labels", fix="add another intent")
        started = time.perf_counter()
        texts = [str(t) for t in texts]
        y = np.asarray(labels)
        if embeddings is None:
            embeddings = self.embed(texts)
        self.calibration = DEFAULT_CALIBRATION
        self.validated_threshold = None
        if self.calibrate:
            self.calibration = self._fit_calibration(texts, y, embeddings)
        self._fit_model(texts, y, embeddings)
        self.train_seconds = time.perf_counter() - started
        return self

    def _fit_model(self, texts: list[str], y: np.ndarray, embeddings: np.ndarray | None) -> None:
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.svm import LinearSVC

        small = len(texts) < 500
        self._word = TfidfVectorizer(ngram_range=self.word_ngrams, sublinear_tf=True)
        self._char = TfidfVectorizer(
            analyzer="char_wb", ngram_range=self.char_ngrams, sublinear_tf=True, min_df=1 if small else 2
        )
        self._word.fit(texts)
        self._char.fit(texts)
        features = self._features(texts, embeddings)
        self._svm = LinearSVC(C=self.c, random_state=self.seed).fit(features, y)
        self.labels_ = self._svm.classes_

    def _fit_calibration(self, texts: list[str], y: np.ndarray, embeddings: np.ndarray | None) -> np.ndarray:
        """Fit how the SVM's scores map to P(top intent is right) on a stratified 10 % held-out slice.

        Logistic regression on two numbers per held-out message: the top decision value and its
        margin over the runner-up. Needs at least 4 examples of every label and 10 right and 10
        wrong held-out answers; otherwise the default mapping is kept.
        """
        counts = Counter(y.tolist())
        if min(counts.values()) < 4:
            return DEFAULT_CALIBRATION
        rng = np.random.default_rng(self.seed)
        held = np.zeros(len(y), dtype=bool)
        for label, count in sorted(counts.items()):
            index = np.flatnonzero(y == label)
            held[rng.choice(index, size=max(1, round(count * 0.1)), replace=False)] = True
        keep = ~held
        self._fit_model([t for t, k in zip(texts, keep) if k], y[keep], None if embeddings is None else embeddings[keep])
        scores = self._scores([t for t, h in zip(texts, held) if h], None if embeddings is None else embeddings[held])
        right = self.labels_[scores.argmax(1)] == y[held]
        if right.sum() < 10 or (~right).sum() < 10:
            return DEFAULT_CALIBRATION
        from sklearn.linear_model import LogisticRegression

        fit = LogisticRegression(C=1.0).fit(_confidence_features(scores), right)
        calibration = np.array([fit.coef_[0][0], fit.coef_[0][1], fit.intercept_[0]])
        if OOS in counts:
            self.validated_threshold = _choose_threshold(
                y[held], self.labels_[scores.argmax(1)], _confidences(calibration, scores))
        return calibration

    # ----------------------------------------------------------------------------- features
    def _features(self, texts: Sequence[str], embeddings: np.ndarray | None):
        from scipy.sparse import csr_matrix, hstack

        blocks = [self._word.transform(texts), self._char.transform(texts)]
        if self.uses_embeddings:
            if embeddings is None:
                embeddings = self.embed(texts)
            blocks.append(csr_matrix(np.asarray(embeddings, dtype=np.float64) * self.embedding_weight))
        return hstack(blocks).tocsr()

    def _scores(self, texts: Sequence[str], embeddings: np.ndarray | None) -> np.ndarray:
        scores = self._svm.decision_function(self._features(texts, embeddings))
        if scores.ndim == 1:  # two classes: sklearn returns one column for the second class
            scores = np.stack([-scores / 2, scores / 2], axis=1)
        return scores

    # ----------------------------------------------------------------------------- prediction
    def _check_fitted(self) -> None:
        if self._svm is None:
            raise RapportError("the intent classifier is not trained", fix="call fit(), fit_csv() or fit_examples()")

    def decision_scores(self, texts: Sequence[str], embeddings: np.ndarray | None = None) -> np.ndarray:
        """Raw SVM decision values, one column per label in ``labels_``."""
        self._check_fitted()
        if not texts:
            return np.zeros((0, len(self.labels_)), dtype=np.float64)
        return self._scores(list(texts), embeddings)

    def confidences(self, scores: np.ndarray) -> np.ndarray:
        """Calibrated probability that the top intent is right, from decision values."""
        return _confidences(self.calibration, scores)

    def predict(
        self, texts: Sequence[str], embeddings: np.ndarray | None = None, threshold: float | None = None
    ) -> list[IntentPrediction]:
        """Predict a batch; ``embeddings`` lets the engine reuse the vectors it already computed."""
        threshold = self.threshold if threshold is None else threshold
        scores = self.decision_scores(texts, embeddings)
        return predictions(self.labels_, scores, self.confidences(scores), threshold)

    def predict_one(self, text: str, embedding: np.ndarray | None = None) -> IntentPrediction:
        embeddings = None if embedding is None else np.asarray(embedding, dtype=np.float32).reshape(1, -1)
        return self.predict([text], embeddings)[0]

    # ----------------------------------------------------------------------------- persistence
    def export(self) -> LinearIntentModel:
        """What prediction needs, as plain arrays: a model that predicts the same with numpy alone.

        Raises RapportError for a vectorizer setting :mod:`bot.nlp.intent_model` does not
        reproduce (changed defaults would otherwise give other features without a word)."""
        from bot.nlp.intent_model import LinearIntentModel, TfidfBlock

        self._check_fitted()
        expected = {"lowercase": True, "strip_accents": None, "preprocessor": None, "tokenizer": None,
                    "stop_words": None, "binary": False, "norm": "l2", "use_idf": True, "sublinear_tf": True,
                    "token_pattern": r"(?u)\b\w\w+\b", "input": "content"}
        for vectorizer, analyzer in ((self._word, "word"), (self._char, "char_wb")):
            params = vectorizer.get_params()
            wrong = {k: params[k] for k, v in expected.items() if params[k] != v}
            if params["analyzer"] != analyzer or wrong:
                raise RapportError(f"cannot export a {params['analyzer']} vectorizer with {wrong}",
                                   fix="export only models trained by IntentClassifier")

        def block(vectorizer: Any, analyzer: str) -> TfidfBlock:
            vocabulary = vectorizer.vocabulary_
            ordered = sorted(vocabulary, key=vocabulary.__getitem__)
            terms = np.array(ordered, dtype=str) if ordered else np.zeros(0, dtype="<U1")
            return TfidfBlock(terms, vectorizer.idf_, analyzer, vectorizer.ngram_range)

        return LinearIntentModel(
            labels=np.array([str(label) for label in self.labels_]),
            word=block(self._word, "word"), char=block(self._char, "char_wb"),
            coef=self._svm.coef_, intercept=self._svm.intercept_, calibration=self.calibration,
            threshold=self.threshold, embedding_weight=self.embedding_weight,
            uses_embeddings=self.uses_embeddings, embedder=None if self._embedder is False else self._embedder,
        )

    def save(self, path: str | Path) -> None:
        """Pickle the trained model (without the embedder). Load only files you wrote yourself."""
        self._check_fitted()
        state = dict(self.__dict__)
        state["_embedder"] = False if self._embedder is False else None
        with open(path, "wb") as handle:
            pickle.dump(state, handle, protocol=pickle.HIGHEST_PROTOCOL)

    @classmethod
    def load(cls, path: str | Path, embedder: Any = None) -> IntentClassifier:
        with open(path, "rb") as handle:
            state = pickle.load(handle)  # our own model file, never a stranger's
        model = cls.__new__(cls)
        model.__dict__.update(state)
        if model._embedder is not False:
            model._embedder = embedder
        return model


# --------------------------------------------------------------------------------- evaluation
def _macro_f1(gold: list[str], pred: list[str], labels: Iterable[str]) -> float:
    scores = []
    for label in labels:
        tp = sum(1 for g, p in zip(gold, pred) if g == label and p == label)
        fp = sum(1 for g, p in zip(gold, pred) if g != label and p == label)
        fn = sum(1 for g, p in zip(gold, pred) if g == label and p != label)
        scores.append(0.0 if tp == 0 else 2 * tp / (2 * tp + fp + fn))
    return float(np.mean(scores)) if scores else 0.0


def score_predictions(gold: Sequence[str], pred: Sequence[str]) -> dict[str, Any]:
    """accuracy over in-scope gold items, macro-F1 over in-scope labels, oos_recall over gold ``oos``.

    A gold in-scope item predicted ``oos`` counts as an error. Macro-F1 averages the F1 of every
    in-scope label present in ``gold``, computed over all items (so a gold ``oos`` message given an
    in-scope label is a false positive for that label). ``oos_recall`` is None without gold ``oos``.
    """
    inscope = [(g, p) for g, p in zip(gold, pred) if g != OOS]
    oos = [p for g, p in zip(gold, pred) if g == OOS]
    accuracy = sum(g == p for g, p in inscope) / len(inscope) if inscope else 0.0
    return {
        "accuracy": round(float(accuracy), 4),
        "macro_f1": round(_macro_f1(list(gold), list(pred), sorted({g for g, _ in inscope})), 4),
        "oos_recall": round(sum(p == OOS for p in oos) / len(oos), 4) if oos else None,
        "n_inscope": len(inscope),
        "n_oos": len(oos),
    }


def evaluate_intents(
    train_csv: str | Path,
    test_csv: str | Path,
    *,
    threshold: float | None = None,
    classifier: IntentClassifier | None = None,
) -> dict[str, Any]:
    """Train on ``train_csv``, test on ``test_csv``; both are ``text,label`` CSVs.

    Returns ``accuracy``, ``macro_f1``, ``oos_recall`` (None when the test file has no ``oos``
    rows), ``train_seconds`` (including embedding the training texts), ``predict_seconds`` and
    sizes. When the test file has ``oos`` rows the confidence threshold is applied (``threshold``
    or the classifier's default) and accuracy / macro-F1 are computed over in-scope rows only;
    when it has none, the evaluation is closed-set (every item gets its best intent) unless a
    ``threshold`` is passed explicitly.
    """
    train_texts, train_labels = read_examples_csv(train_csv)
    test_texts, test_labels = read_examples_csv(test_csv)
    model = classifier or IntentClassifier()
    model.fit(train_texts, train_labels)
    has_oos = OOS in set(test_labels)
    # An explicit threshold wins; else the one validated on training data, else the default.
    validated = getattr(model, "validated_threshold", None)
    applied = threshold if threshold is not None else (
        (validated if validated is not None else model.threshold) if has_oos else 0.0)
    started = time.perf_counter()
    predictions = model.predict(test_texts, threshold=applied)
    predict_seconds = time.perf_counter() - started
    result = score_predictions(test_labels, [p.label for p in predictions])
    result.update(
        train_seconds=round(model.train_seconds or 0.0, 2),
        predict_seconds=round(predict_seconds, 2),
        threshold=applied,
        validated_threshold=validated,
        calibration=[round(float(v), 3) for v in model.calibration],
        n_train=len(train_texts),
        n_test=len(test_texts),
        n_labels=len(set(train_labels)),
    )
    return result
