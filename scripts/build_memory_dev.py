#!/usr/bin/env python
"""Build the memory-recall development set (bench/sets/memory_dev.jsonl) from public dialogue.

    .venv/bin/pip install --no-deps chitchat-dataset      # MIT licence, BYU PCC lab, 7,168 chats
    .venv/bin/python scripts/build_memory_dev.py [--people 30] [--out bench/sets/memory_dev.jsonl]

Source: the CCC chit-chat dataset (BYU Perception, Control and Cognition lab, MIT licence),
read from the ``chitchat-dataset`` PyPI package, never downloaded. Each message carries a
stable sender id, and many people took part in dozens of conversations, so one sender's
messages across their conversations are a real multi-session history.

One "conversation" of the output is one person: their own messages, in time order, over
several chats (the customer's turns; the partners' lines are not stored, as Rapport keeps
customer turns as memories). Questions are the *partners'* real questions to that person
("what do you study?"), and the evidence is the person's reply that followed (their next
message block). So the question text itself is never in the history, and nothing here is
written by us: the question and its answer were typed by two different people.

Filters, so a question has something to find: it ends with "?", has at least three words that
are not stopwords (drops "how are you?"), and the reply has at least five words. Deterministic:
people and questions are picked by a seeded shuffle.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import sys
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.nlp.datasets import package_dir  # noqa: E402

_WORD = re.compile(r"[a-z0-9']+")
# Small on purpose: what remains must say what the question is about.
STOP = set("""a an the and or but if so to of in on at for with about from by as is are was were be been am
do does did doing have has had i you he she it we they me my your his her its our their this that these those
what whats what's how who whom which when where why there here any some much many more most very really just
like would could should can will shall may might must not no yes up out get got go going know think
fun today doing day week weekend ever else anything something thing things""".split())


def content_words(text: str) -> list[str]:
    return [w for w in _WORD.findall(text.lower()) if w not in STOP and len(w) > 1]


def load_chats() -> dict[str, dict]:
    path = package_dir("chitchat_dataset", "chitchat-dataset") / "dataset.json"
    return json.loads(path.read_text(encoding="utf-8"))


def person_histories(chats: dict[str, dict]) -> dict[str, list[tuple[str, list[dict]]]]:
    """sender -> [(chat id, message blocks)] for every chat they took part in."""
    out: dict[str, list[tuple[str, list[dict]]]] = defaultdict(list)
    for chat_id, chat in sorted(chats.items()):
        senders = {m["sender"] for block in chat["messages"] for m in block}
        for sender in sorted(senders):
            out[sender].append((chat_id, chat["messages"]))
    return out


def build_person(sender: str, chats: list[tuple[str, list[dict]]], max_turns: int, max_questions: int,
                 rng: random.Random) -> dict | None:
    turns: list[dict] = []
    candidates: list[dict] = []
    for chat_id, blocks in sorted(chats, key=lambda c: c[1][0][0]["timestamp"]):
        for index, block in enumerate(blocks):
            if block[0]["sender"] == sender:
                for m in block:
                    if m["text"].strip():
                        turns.append({"id": f"t{len(turns)}", "speaker": "customer", "text": m["text"].strip(),
                                      "at": m["timestamp"]})
                continue
            # A partner's block: its last line, when a real question, is answered by our next block.
            question = block[-1]["text"].strip()
            reply = blocks[index + 1] if index + 1 < len(blocks) else None
            if (reply and reply[0]["sender"] == sender and question.endswith("?")
                    and len(content_words(question)) >= 3):
                first = len(turns)
                answer = [m for m in reply if m["text"].strip()]
                if sum(len(m["text"].split()) for m in answer) >= 5:
                    candidates.append({"question": question,
                                       "evidence": [f"t{first + k}" for k in range(len(answer))]})
    if len(turns) > max_turns:  # keep the newest: a long history is capped by the store anyway
        drop = len(turns) - max_turns
        turns = turns[drop:]
        kept = {t["id"] for t in turns}
        candidates = [c for c in candidates if all(e in kept for e in c["evidence"])]
    if len(candidates) < 2:
        return None
    rng.shuffle(candidates)
    return {"id": f"ccc-{sender[:8]}", "turns": turns, "questions": candidates[:max_questions]}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--people", type=int, default=30)
    parser.add_argument("--min-chats", type=int, default=4, help="people with at least this many conversations")
    parser.add_argument("--max-turns", type=int, default=150)
    parser.add_argument("--questions", type=int, default=8, help="questions per person at most")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "sets" / "memory_dev.jsonl")
    args = parser.parse_args()

    rng = random.Random(args.seed)
    histories = person_histories(load_chats())
    people = sorted(s for s, chats in histories.items() if len(chats) >= args.min_chats)
    rng.shuffle(people)
    rows = []
    for sender in people:
        row = build_person(sender, histories[sender], args.max_turns, args.questions, rng)
        if row:
            rows.append(row)
        if len(rows) == args.people:
            break
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with open(args.out, "w", encoding="utf-8") as handle:
        for row in rows:
            handle.write(json.dumps(row, ensure_ascii=False) + "\n")
    n_turns = sum(len(r["turns"]) for r in rows)
    n_questions = sum(len(r["questions"]) for r in rows)
    print(f"wrote {args.out}: {len(rows)} people, {n_turns} turns, {n_questions} questions")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
