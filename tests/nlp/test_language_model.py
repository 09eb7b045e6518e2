"""py3langid's model held small (bot/nlp/language_model.py): the same automaton, the same answers,
a fraction of the memory."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from py3langid.langid import MODEL_DIR, MODEL_FILE, LanguageIdentifier
from py3langid.modelio import load_model

from bot.nlp.language import CANDIDATES, read_labelled
from bot.nlp.language_model import NgramLanguageIdentifier

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def compact() -> NgramLanguageIdentifier:
    return NgramLanguageIdentifier.from_py3langid(CANDIDATES)


@pytest.fixture(scope="module")
def reference() -> LanguageIdentifier:
    model = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
    model.set_languages(list(CANDIDATES))
    return model


def test_children_and_fail_links_rebuild_every_row_of_the_dense_automaton(compact: NgramLanguageIdentifier) -> None:
    _, _, _, nextmove, row_of, out_feat = load_model(Path(MODEL_DIR) / MODEL_FILE)
    dense = np.asarray(nextmove, dtype=np.int64).reshape(-1, 256)[np.asarray(row_of, dtype=np.int64)]
    first = np.asarray(compact._first_child, dtype=np.int64)  # noqa: SLF001 - checking the internal form
    children = np.asarray(compact._child_states, dtype=np.int64)  # noqa: SLF001
    on_byte = np.frombuffer(compact._child_bytes, dtype=np.uint8)  # noqa: SLF001
    fail = np.asarray(compact._fail, dtype=np.int64)  # noqa: SLF001
    parent = np.repeat(np.arange(len(dense)), np.diff(first))
    depth = np.zeros(len(dense), dtype=np.int64)
    for _ in range(16):  # a child is one deeper than its parent
        depth[children] = depth[parent] + 1
    rebuilt = np.zeros_like(dense)
    for level in range(int(depth.max()) + 1):  # a state's row: its fail state's row, its children over it
        states = np.nonzero(depth == level)[0]
        if level:
            rebuilt[states] = rebuilt[fail[states]]
        mine = np.isin(parent, states)
        rebuilt[parent[mine], on_byte[mine]] = children[mine]
    assert len(children) == len(dense) - 1  # a tree: every state but the start has one parent
    assert (depth[fail[1:]] < depth[1:]).all()  # a fail link always leads up, so a walk ends
    assert np.array_equal(rebuilt, dense)
    assert list(compact._feature) == list(out_feat)  # noqa: SLF001


def _texts() -> list[str]:
    texts = [text for _, text in read_labelled()]
    for name in ("knowledge/intents.csv", "bot/nlp/support_sentiment.csv"):
        texts += [r["text"] for r in csv.DictReader((ROOT / name).open(encoding="utf-8"))]
    return texts + ["", "WHERE IS MY ORDER", "Где мой заказ?", "注文はどこですか", "أين طلبي", "Πού είναι η παραγγελία μου;",
                    "12345 !!!", "naïve café résumé", "broken \udcff surrogate"]


def test_the_same_language_and_probability_as_py3langid(compact: NgramLanguageIdentifier,
                                                         reference: LanguageIdentifier) -> None:
    texts = _texts()
    different = [(t, compact.classify(t), reference.classify(t)) for t in texts
                 if compact.classify(t) != reference.classify(t)]
    assert len(texts) > 600
    assert different == []
    assert compact.classes == reference.nb_classes
    assert {code for code, _ in map(compact.classify, texts)} >= {"en", "es", "fr", "de", "ru", "ja", "ar", "el"}


def test_unknown_candidates_are_refused() -> None:
    with pytest.raises(ValueError, match="xx"):
        NgramLanguageIdentifier.from_py3langid(["en", "xx"])


PROBE = """
import json, sys
def status():
    fields = dict(line.split(":", 1) for line in open("/proc/self/status"))
    return {k: int(fields[k].split()[0]) / 1024 for k in ("VmRSS", "VmHWM")}
from bot.nlp.language import LanguageDetector
detector = LanguageDetector()
before = status()
assert detector.detect("¿cuánto tarda el envío a España?").code == "es"
after = status()
print(json.dumps({"grew_mb": after["VmRSS"] - before["VmRSS"], "peak_over_start_mb": after["VmHWM"] - before["VmRSS"]}))
"""


def test_loading_it_adds_little_and_never_peaks_far_above() -> None:
    done = subprocess.run([sys.executable, "-c", PROBE], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    cost = json.loads(done.stdout)
    # Measured: +20 MB, peak +20 MB; py3langid's own loader: +54 MB, peak +104 MB.
    assert cost["grew_mb"] < 35 and cost["peak_over_start_mb"] < 45, cost
