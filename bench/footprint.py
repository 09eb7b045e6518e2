"""What each part of a running Rapport costs in resident memory (RSS) and seconds to load.

    python bench/footprint.py --data-dir DIR [--chroma-url http://127.0.0.1:8000]

Opens the runtime as ``rapport serve`` / ``chat`` do, timing the builders it calls (each wrapped to
read RSS and the peak before and after), then loads what the first messages load (the embedding model, the
language model) and runs six turns; prints one JSON object, MB and seconds per part. DIR should be
a data directory that has been used once (knowledge ingested, intent router trained), as a server's
is. RSS deltas are what the process grew by: memory a part shares with an earlier one counts once.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import json
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def rss_mb() -> float:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def peak_mb() -> float:
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmHWM:")) / 1024


costs: dict[str, dict[str, float]] = {}


def note(label: str, before: float, started: float, peak_before: float) -> None:
    """RSS growth and seconds of a part, and how far it raised the process's peak (VmHWM): a part
    that holds little may still peak high while it loads."""
    part = costs.setdefault(label, {"mb": 0.0, "seconds": 0.0, "raised_peak_mb": 0.0})
    part["mb"] = round(part["mb"] + rss_mb() - before, 1)
    part["seconds"] = round(part["seconds"] + time.perf_counter() - started, 2)
    part["raised_peak_mb"] = round(part["raised_peak_mb"] + peak_mb() - peak_before, 1)


def measured(owner: Any, name: str, label: str) -> None:
    """Replace ``owner.name`` by a copy that notes its RSS growth and time under ``label``."""
    real: Callable[..., Any] = getattr(owner, name)
    if asyncio.iscoroutinefunction(real):
        @functools.wraps(real)
        async def wrapper(*args: Any, **kwargs: Any) -> Any:
            before, started, peak = rss_mb(), time.perf_counter(), peak_mb()
            try:
                return await real(*args, **kwargs)
            finally:
                note(label, before, started, peak)
    else:
        @functools.wraps(real)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            before, started, peak = rss_mb(), time.perf_counter(), peak_mb()
            try:
                return real(*args, **kwargs)
            finally:
                note(label, before, started, peak)
    setattr(owner, name, wrapper)


async def main(args: argparse.Namespace) -> dict[str, object]:
    before, started, peak = rss_mb(), time.perf_counter(), peak_mb()
    base = before
    import bot.embedder as embedder_module
    import bot.runtime as runtime_module
    from bot.config import load_config
    from bot.types import ConversationKey, Inbound

    note("imports (bot.runtime and its modules)", before, started, peak)
    measured(runtime_module, "ensure_schema", "database schema")
    measured(runtime_module.VectorStore, "open", "vector store client")
    measured(runtime_module.KnowledgeBase, "open", "knowledge base (keyword index)")
    measured(runtime_module.IntentRouter, "load", "intent router")
    measured(runtime_module.ProductAdvisor, "fit", "recommender fit")
    measured(embedder_module, "load_embedder", "embedding model (ONNX session)")
    config = load_config(ROOT / "config.yaml", env={"CHROMA_URL": args.chroma_url} if args.chroma_url else {})
    before, started = rss_mb(), time.perf_counter()
    async with runtime_module.Runtime.open(config, Path(args.data_dir)) as runtime:
        startup = time.perf_counter() - started
        runtime.embedder.embed(["warm up"])
        languages = runtime.engine.understand._languages  # noqa: SLF001 - measuring its lazy load
        before, started, peak = rss_mb(), time.perf_counter(), peak_mb()
        if languages is not None:
            languages.detect("¿cuánto tarda el envío a España?")
        note("language model (py3langid's, bot/nlp/language_model.py)", before, started, peak)
        before, started, peak = rss_mb(), time.perf_counter(), peak_mb()
        texts = ["hi", "where is my order?", "what is your return policy?", "my desk lamp arrived damaged",
                 "¿cuánto tarda el envío a España?", "thanks!"]
        for n, text in enumerate(texts):
            await runtime.engine.handle(Inbound(platform="bench", conversation=ConversationKey("bench", "W", "D1"),
                                                user_id="U1", text=text, message_id=f"footprint-{time.time()}-{n}"))
        note("six turns (sentiment scorer, recall, memory writer)", before, started, peak)
    return {"benchmark": "footprint", "vectors": "chroma server" if args.chroma_url else "embedded chroma",
            "python_and_bench_mb": round(base, 1), "parts": costs, "runtime_open_seconds": round(startup, 2),
            "rss_end_mb": round(rss_mb(), 1), "peak_rss_mb": round(peak_mb(), 1),
            "load_average_1m": round(os.getloadavg()[0], 2)}


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", required=True)
    parser.add_argument("--chroma-url", help="vectors in this Chroma server (default: embedded in the data dir)")
    print(json.dumps(asyncio.run(main(parser.parse_args())), ensure_ascii=False))
