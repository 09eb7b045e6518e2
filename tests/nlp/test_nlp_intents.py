"""Intent classifier: training from a CSV or examples, held-out predictions, out-of-scope, evaluation."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from bot.embedder import load_embedder
from bot.nlp.intents import (
    OOS,
    IntentClassifier,
    evaluate_intents,
    read_examples_csv,
    score_predictions,
)

TRAIN = {
    "refund": [
        "I want my money back",
        "how do I get a refund",
        "please refund my order",
        "can I return this and get reimbursed",
        "refund request for order 1234",
        "I'd like a refund for the broken item",
        "give me my money back",
        "when will my refund be processed",
    ],
    "delivery": [
        "where is my package",
        "my order hasn't arrived yet",
        "when will my parcel be delivered",
        "track my shipment",
        "the delivery is late",
        "has my order shipped",
        "what is the status of my delivery",
        "how long does shipping take",
    ],
    "password": [
        "I forgot my password",
        "reset my password please",
        "I can't log in to my account",
        "how do I change my password",
        "my login isn't working",
        "locked out of my account",
        "password reset email never came",
        "I need to recover my account",
    ],
    "opening_hours": [
        "what time do you open",
        "are you open on sunday",
        "what are your opening hours",
        "when does the store close",
        "are you open on public holidays",
        "what time do you close today",
        "business hours please",
        "is the shop open tomorrow morning",
    ],
}
HELD_OUT = [
    ("I would like to be reimbursed for my purchase", "refund"),
    ("my parcel still hasn't shown up", "delivery"),
    ("I can't remember my password", "password"),
    ("until what time are you open on saturday", "opening_hours"),
]
NONSENSE = ["purple elephants sing quantum jazz", "asdkjh qwpoeiru zmxnbv"]


def write_csv(path: Path, rows, header=("text", "label")) -> Path:
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        if header:
            writer.writerow(header)
        writer.writerows(rows)
    return path


@pytest.fixture(scope="module")
def classifier() -> IntentClassifier:
    return IntentClassifier(embedder=load_embedder()).fit_examples(TRAIN)


def test_held_out_examples_get_their_intent(classifier):
    predictions = classifier.predict([text for text, _ in HELD_OUT])
    assert [p.label for p in predictions] == [label for _, label in HELD_OUT]
    assert all(0.0 <= p.confidence <= 1.0 for p in predictions)


def test_nonsense_is_out_of_scope(classifier):
    for prediction in classifier.predict(NONSENSE):
        assert prediction.label == OOS
        assert prediction.best in TRAIN  # the best guess is still reported


def test_in_scope_is_more_confident_than_nonsense(classifier):
    inscope = classifier.predict([text for text, _ in HELD_OUT])
    nonsense = classifier.predict(NONSENSE)
    assert min(p.confidence for p in inscope) > max(p.confidence for p in nonsense)


def test_precomputed_embedding_and_tuple_unpacking(classifier):
    text = "where is my package"
    label, confidence = classifier.predict_one(text, load_embedder().embed([text])[0])
    assert label == "delivery" and confidence == classifier.predict_one(text).confidence


def test_trains_from_csv_and_evaluates_with_oos(tmp_path):
    train = write_csv(tmp_path / "train.csv", [(t, label) for label, items in TRAIN.items() for t in items])
    test = write_csv(tmp_path / "test.csv", HELD_OUT + [(t, OOS) for t in NONSENSE])
    result = evaluate_intents(train, test, classifier=IntentClassifier(embedder=load_embedder()))
    assert result["accuracy"] == 1.0
    assert result["macro_f1"] == 1.0
    assert result["oos_recall"] == 1.0
    assert result["train_seconds"] >= 0 and result["n_train"] == 32 and result["n_labels"] == 4


def test_evaluation_without_oos_rows_is_closed_set(tmp_path):
    train = write_csv(tmp_path / "train.csv", [(t, label) for label, items in TRAIN.items() for t in items])
    test = write_csv(tmp_path / "test.csv", HELD_OUT)
    result = evaluate_intents(train, test, classifier=IntentClassifier(embedder=load_embedder()))
    assert result["oos_recall"] is None
    assert result["accuracy"] == 1.0


def test_tfidf_only_mode_works_without_embedder():
    model = IntentClassifier(embedder=False).fit_examples(TRAIN)
    assert model.predict_one("please refund my order now").best == "refund"


def test_save_and_load_round_trip(classifier, tmp_path):
    path = tmp_path / "intents.pkl"
    classifier.save(path)
    loaded = IntentClassifier.load(path, embedder=load_embedder())
    texts = [text for text, _ in HELD_OUT]
    assert loaded.predict(texts) == classifier.predict(texts)


def test_csv_reader_accepts_category_header_and_headerless(tmp_path):
    a = write_csv(tmp_path / "a.csv", [("hello there", "greet"), ("bye", "leave")], header=("text", "category"))
    b = write_csv(tmp_path / "b.csv", [("hello there", "greet"), ("bye", "leave")], header=None)
    assert read_examples_csv(a) == read_examples_csv(b) == (["hello there", "bye"], ["greet", "leave"])


def test_score_predictions_counts_oos_separately():
    gold = ["a", "a", "b", OOS, OOS]
    pred = ["a", OOS, "b", OOS, "a"]
    result = score_predictions(gold, pred)
    assert result["accuracy"] == pytest.approx(2 / 3, abs=1e-4)  # in-scope items only; oos answer is wrong
    assert result["oos_recall"] == 0.5
    assert result["n_inscope"] == 3 and result["n_oos"] == 2


def test_training_needs_two_labels():
    with pytest.raises(Exception, match="two different labels"):
        IntentClassifier(embedder=False).fit(["a", "b"], ["x", "x"])
