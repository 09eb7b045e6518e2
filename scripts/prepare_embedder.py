"""Build the embedding model's prepared ONNX graph ahead of time (it is otherwise built on first use).

    python scripts/prepare_embedder.py [--cache-dir DIR]

Runs ONNX Runtime's graph optimizations on the shipped int8 MiniLM once, in a child process, and
writes the result into DIR (default: RAPPORT_MODEL_CACHE, else ~/.cache/rapport) under a name
keyed by the model file's SHA-256 and the onnxruntime version; a serving process then loads it with
optimizations off. Run it where the cache will be read: at build time into the image or slug
(e.g. ``RAPPORT_MODEL_CACHE=.cache/rapport`` from the app folder, which is ``~/.cache/rapport`` on a
Heroku dyno), not in a release phase, whose files are not kept. Prints the path and its sizes.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.embedder import model_cache_dir, prepared_model  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cache-dir", type=Path, help="default: RAPPORT_MODEL_CACHE, else ~/.cache/rapport")
    args = parser.parse_args()
    started = time.perf_counter()
    path = prepared_model(cache_dir=args.cache_dir or model_cache_dir())
    print(json.dumps({"prepared": str(path), "seconds": round(time.perf_counter() - started, 2),
                      "files_mb": {p.name: round(p.stat().st_size / 2**20, 1) for p in sorted(path.parent.iterdir())}}))


if __name__ == "__main__":
    main()
