"""The exported intent model predicts as the scikit-learn classifier does, with numpy alone; the
router trains in a child process and a process routing from the cache never imports scikit-learn."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
from sklearn.feature_extraction.text import TfidfVectorizer

from bot.embedder import load_embedder
from bot.errors import KnowledgeError, RapportError
from bot.intents import IntentRouter
from bot.nlp.intent_model import LinearIntentModel, char_wb_ngrams, word_ngrams
from bot.nlp.intents import IntentClassifier
from tests.nlp.test_nlp_intents import HELD_OUT, NONSENSE, TRAIN, write_csv

ROOT = Path(__file__).resolve().parents[2]
# Edge cases of the analyzers: empty, one-letter words, runs of whitespace, accents, digits, punctuation.
ODD = ["", "   ", "I", "a b", "x  y\t\nz", "Café crème, s'il vous plaît!", "order #41233 — late?!", "ÄÖÜ ßtraße",
       "re-re-refund", "where is my package", "WHERE IS MY PACKAGE"]


@pytest.mark.parametrize("text", ODD + [t for t, _ in HELD_OUT])
def test_analyzers_cut_text_as_scikit_learn_does(text):
    word = TfidfVectorizer(ngram_range=(1, 2)).build_analyzer()
    char = TfidfVectorizer(analyzer="char_wb", ngram_range=(1, 4)).build_analyzer()
    assert word_ngrams(text, (1, 2)) == word(text)
    assert char_wb_ngrams(text, (1, 4)) == char(text)
    assert char_wb_ngrams(text, (2, 3)) == TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 3)).build_analyzer()(text)


@pytest.fixture(scope="module")
def classifier() -> IntentClassifier:
    return IntentClassifier(embedder=load_embedder()).fit_examples(TRAIN)


def test_exported_model_gives_the_same_scores_and_predictions(classifier, tmp_path):
    path = tmp_path / "router.npz"
    classifier.export().save(path)
    with zipfile.ZipFile(path) as archive:  # plain arrays: every member loads without pickle
        assert all(name.endswith(".npy") for name in archive.namelist())
    model = LinearIntentModel.load(path, embedder=load_embedder())
    texts = [t for t, _ in HELD_OUT] + NONSENSE + ODD
    np.testing.assert_allclose(model.decision_scores(texts), classifier.decision_scores(texts), rtol=0, atol=1e-9)
    assert model.predict(texts) == classifier.predict(texts)
    assert model.predict(texts, threshold=0.9) == classifier.predict(texts, threshold=0.9)
    vector = load_embedder().embed(["my parcel still hasn't shown up"])[0]
    assert model.predict_one("my parcel still hasn't shown up", vector).label == "delivery"


def test_tfidf_only_and_two_class_models_export_too():
    for examples in (TRAIN, {label: TRAIN[label] for label in ("refund", "delivery")}):
        fitted = IntentClassifier(embedder=False).fit_examples(examples)
        texts = [t for t, _ in HELD_OUT] + ODD
        exported = fitted.export()
        assert exported.decision_scores(texts).shape == (len(texts), len(examples))
        np.testing.assert_allclose(exported.decision_scores(texts), fitted.decision_scores(texts), rtol=0, atol=1e-9)
        assert exported.predict(texts) == fitted.predict(texts)


def test_export_refuses_a_vectorizer_setting_it_does_not_reproduce():
    fitted = IntentClassifier(embedder=False).fit_examples(TRAIN)
    fitted._word.set_params(lowercase=False)
    with pytest.raises(RapportError, match="lowercase"):
        fitted.export()


def test_router_trains_in_a_child_and_serves_without_scikit_learn(tmp_path):
    examples = write_csv(tmp_path / "intents.csv", [(t, label) for label, items in TRAIN.items() for t in items])
    data = tmp_path / "data"
    router = IntentRouter.load(examples, data, load_embedder(), 0.5)
    vector = load_embedder().embed(["how do I get my money back"])[0]
    assert router.route("how do I get my money back", vector).label == "refund"
    assert [p.name for p in data.iterdir()] == [next(data.glob("intents-*.npz")).name]
    # A fresh process loads the cached router and routes: no scikit-learn, no scipy, no retraining.
    np.save(tmp_path / "vector.npy", vector)
    script = (
        "import sys, numpy as np; from pathlib import Path; from bot.intents import IntentRouter\n"
        "class Named: name = sys.argv[3]\n"
        "router = IntentRouter.load(Path(sys.argv[1]), Path(sys.argv[2]), Named(), 0.5)\n"
        "print(router.route('how do I get my money back', np.load(sys.argv[4])).label,"
        " 'sklearn' in sys.modules, 'scipy' in sys.modules)\n"
    )
    done = subprocess.run([sys.executable, "-c", script, str(examples), str(data), load_embedder().name,
                           str(tmp_path / "vector.npy")], capture_output=True, text=True, cwd=ROOT, check=True)
    assert done.stdout.split() == ["refund", "False", "False"]


def test_router_training_failure_names_the_file_and_the_reason(tmp_path):
    examples = write_csv(tmp_path / "intents.csv", [("hello", "greet"), ("hi there", "greet")])
    with pytest.raises(KnowledgeError, match="at least two different labels") as caught:
        IntentRouter.load(examples, tmp_path / "data", load_embedder(), 0.5)
    assert caught.value.path == str(examples)
    assert not list((tmp_path / "data").glob("intents-*"))
