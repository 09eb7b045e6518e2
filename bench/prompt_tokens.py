#!/usr/bin/env python
"""Prompt tokens at turn N: the grounded brief vs a full-history buffer with the same grounding.

    .venv/bin/python bench/prompt_tokens.py            # turn 20, o200k_base tokens
    .venv/bin/python bench/prompt_tokens.py --turns 40 --json

Both prompts answer the same turn of the same conversation, from the same inputs: twenty questions and
the replies Rapport's offline composer gave them (``bench/sets/offline_chat.jsonl``, from ``rapport chat
--json``; repeated past turn 20), the customer's profile
(12 orders, 10 memories and facts), the three knowledge sections retrieval returned for this message
(real sections of knowledge/pages, chunked as the knowledge base chunks them), four recommendations and
the offline draft.

- **buffer**: what a LangChain ``ConversationBufferMemory`` chain sends. Its buffer is every message so
  far rendered by ``langchain_core.messages.get_buffer_string`` ("Human: … / AI: …"), which is exactly the
  memory's ``buffer`` (the class itself lives in the ``langchain`` package, not installed here); the
  grounding goes in whole, as a chain with a context variable sends it.
- **brief**: :class:`bot.llm.brief.BriefBuilder` with the default ``llm.budgets``: blocks cut to their
  budgets, the newest turns only, the same system rules.

Both are counted with o200k_base (gpt-4o, gpt-4o-mini) plus the per-message overhead; the brief's system
rules count in both, so the ratio is not flattered by leaving them out of the buffer.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from langchain_core.messages import AIMessage, HumanMessage, get_buffer_string  # noqa: E402

from bot.config import Brand, Knowledge, LlmBudgets  # noqa: E402
from bot.knowledge.pages import read_page  # noqa: E402
from bot.llm import (ComposeRequest, CustomerInsights, DialogueFocus, KnowledgeSection, OrderFacts,  # noqa: E402
                     OrderLine, Pick, Remembered, TurnText)
from bot.llm.brief import MESSAGE_OVERHEAD, SYSTEM_RULES, BriefBuilder, count_tokens, language_fields  # noqa: E402
from bot.types import ConversationKey, Reply  # noqa: E402

CHAT = ROOT / "bench/sets/offline_chat.jsonl"
def knowledge_sections(config: Knowledge) -> list[KnowledgeSection]:
    chunks = []
    for page in sorted((ROOT / "knowledge/pages").glob("*.md")):
        chunks += read_page(page, f"knowledge/pages/{page.name}", config.chunk_size, config.chunk_overlap)
    return [KnowledgeSection(c.title, c.section, c.text, c.source, c.internal) for c in chunks if not c.internal]


def conversation(turn: int, sections: list[KnowledgeSection]) -> ComposeRequest:
    now = datetime(2026, 11, 20, tzinfo=UTC)
    # The bot's side: the replies Rapport's offline composer gave to these questions (`rapport chat --json`),
    # so the buffer grows by real reply lengths (79 o200k tokens on average), not made-up ones.
    chat = [json.loads(line) for line in CHAT.read_text(encoding="utf-8").splitlines() if line.strip()]
    turns: list[TurnText] = []
    for i in range(turn - 1):
        turns.append(TurnText("customer", chat[i % len(chat)]["customer"]))
        turns.append(TurnText("bot", chat[i % len(chat)]["bot"]))
    hits = tuple(sections[(turn * 5 + k) % len(sections)] for k in range(3))  # three hits, as recall returns
    orders = tuple(OrderFacts(str(1042 - i), "delivered" if i else "shipped",
                              (OrderLine(f"SKU-{i:03d}", f"Product number {i}"),), 20.0 + 7 * i,
                              f"1Z999AA1012345{i:04d}", now - timedelta(days=6 + 20 * i),
                              now - timedelta(days=4 + 20 * i)) for i in range(12))
    memories = tuple(Remembered(f"The customer said something useful about their home office, item {i}.",
                                f"2026-10-{i + 1:02d}") for i in range(10))
    picks = tuple(Pick(f"BULB-{i}", f"Warm LED Bulb {i}", 12.5 + i, "fits the Halo lamp you bought")
                  for i in range(4))
    last = chat[(turn - 1) % len(chat)]
    draft = Reply(ConversationKey("console", "local", "ana"), "m-20", last["bot"])
    return ComposeRequest(last["customer"], draft, "Ana", hits, orders,
                          DialogueFocus("1042", "LAMP-HALO", "Returns"), tuple(turns), memories, picks,
                          CustomerInsights("repeat", 12, 1234.0, ("lighting", "office")))


def buffer_tokens(request: ComposeRequest, brand: Brand) -> int:
    """The prompt of a chain with ConversationBufferMemory: rules, the whole grounding, every past message."""
    history = [HumanMessage(t.text) if t.role == "customer" else AIMessage(t.text) for t in request.turns]
    grounding = "\n".join([
        *(f"[{n}] {s.title} — {s.section}\n{s.text}" for n, s in enumerate(request.knowledge, 1)),
        *(f"order {o.order_id}: {o.status}; items: {', '.join(i.name for i in o.items)}; total ${o.total:.2f}; "
          f"ordered {o.ordered_at:%Y-%m-%d}; tracking number {o.tracking}" for o in request.orders),
        *(f"{m.when}: {m.text}" for m in request.memories),
        *(f"{p.name} (SKU {p.sku}), ${p.price:.2f}: {p.reason}" for p in request.recommendations),
        f"journey stage: {request.insights.stage}", f"draft: {request.draft.text}",
    ])
    system = SYSTEM_RULES.format(bot=brand.bot_name, brand=brand.name, persona=brand.persona,
                                 **language_fields("en"))
    prompt = f"{grounding}\n\n{get_buffer_string(history)}\nHuman: {request.inbound_text}\nAI:"
    return count_tokens(system) + count_tokens(prompt) + 2 * MESSAGE_OVERHEAD


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    parser.add_argument("--turns", type=int, default=20)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    brand = Brand()
    sections = knowledge_sections(Knowledge())
    request = conversation(args.turns, sections)
    brief = BriefBuilder(brand, LlmBudgets()).build(request)
    buffer = buffer_tokens(request, brand)
    figures = {"turn": args.turns, "brief_tokens": brief.tokens, "buffer_tokens": buffer,
               "ratio": round(brief.tokens / buffer, 3), "brief_blocks": brief.blocks, "left_out": brief.left_out,
               "tokenizer": "o200k_base"}
    if args.json:
        print(json.dumps(figures, indent=2))
        return
    print(f"turn {args.turns}: brief {brief.tokens} tokens, full-history buffer {buffer} tokens, "
          f"ratio {brief.tokens / buffer:.1%} (target <= 30%)")
    print("brief blocks:", ", ".join(f"{k} {v}" for k, v in brief.blocks.items()))
    print("left out by budget:", ", ".join(f"{k} {v}" for k, v in brief.left_out.items()) or "nothing")


if __name__ == "__main__":
    main()
