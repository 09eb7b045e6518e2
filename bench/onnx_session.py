"""What the embedding model's ONNX session costs, loaded the old way and from the prepared graph.

    python bench/onnx_session.py [--sentences 300] [--variants before prepared ...]

Each variant runs in a fresh interpreter (so one's memory never counts in another's) and reports:
the session's RSS growth when it loads (anonymous and file-backed pages apart), its peak RSS
(VmHWM) after embedding, seconds of CPU to load, CPU and wall milliseconds per sentence one at a
time and in batches of 64 (the most the batcher sends), and the lowest cosine between its vectors
and the "before" session's over the same sentences (synthetic support sentences, 3 to 25 words).
Prints one JSON object.

Variants: ``before`` — as the embedder was: the int8 file optimized by ONNX Runtime at every load,
64 texts a run, idle threads spinning, min(4, cores) intra-op threads; ``shipped`` — that file with
today's other settings; ``prepared`` — the graph built once by ``bot.embedder.prepared_model``,
optimizations off, today's defaults (16 texts a run, one intra-op thread per core beyond the first,
idle threads asleep); ``prepared-b64`` — 64 texts a run; ``prepared-spin`` — idle threads spinning
(ONNX Runtime's default); ``prepared-2t`` — two intra-op threads; ``prepared-noprepack`` — kernels
read the mapped weights unpacked (less anonymous memory, more CPU).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

PROBE = r"""
import json, os, random, sys, time
import numpy as np
sys.path.insert(0, sys.argv[1])
variant, count, reference = sys.argv[2], int(sys.argv[3]), sys.argv[4]

def status():
    text = open("/proc/self/status").read()
    field = lambda key: int(text.split(key + ":")[1].split()[0]) / 1024
    return {"rss": field("VmRSS"), "anon": field("RssAnon"), "file": field("RssFile"), "hwm": field("VmHWM")}

import onnxruntime  # noqa: F401 - its import is not the session's cost
import tokenizers  # noqa: F401
from bot import embedder as e

# "before" as the embedder was: min(4, cores) intra-op threads; "prepared-2t" two; the rest today's default
threads = min(4, os.cpu_count() or 1) if variant == "before" else 2 if variant == "prepared-2t" else None
entries = {"before": {"session.intra_op.allow_spinning": "1"},
           "prepared-spin": {"session.intra_op.allow_spinning": "1"},
           "prepared-noprepack": {"session.disable_prepacking": "1"}}.get(variant, {})
before, cpu = status(), time.process_time()
batch_size = 64 if variant in ("before", "shipped", "prepared-b64") else 16
model = e.OnnxMiniLM(threads=threads, batch_size=batch_size, prepared=variant.startswith("prepared"),
                     session_config=entries)
load_cpu, loaded = time.process_time() - cpu, status()
rng = random.Random(11)
words = ("my order lamp arrived damaged refund shipping how long does it take where is the package I want "
         "to return this policy thanks hello wrong size charged twice headphones stopped working tent "
         "missing part gift card delivery address change password reset warranty coffee beans").split()
sentences = [" ".join(rng.choice(words) for _ in range(rng.randint(3, 25))) for _ in range(count)]
model.embed(sentences[:4])  # first-call allocations out of the timings
cpu, wall = time.process_time(), time.perf_counter()
one = np.vstack([model.embed([s]) for s in sentences])
one_cpu, one_wall = time.process_time() - cpu, time.perf_counter() - wall
cpu, wall = time.process_time(), time.perf_counter()
for start in range(0, count, 64):
    model.embed(sentences[start:start + 64])
batch_cpu, batch_wall = time.process_time() - cpu, time.perf_counter() - wall
if variant == "before":
    np.save(reference, one)
cosine = float((one * np.load(reference)).sum(axis=1).min())
after = status()
print(json.dumps({
    "variant": variant, "session_mb": round(loaded["rss"] - before["rss"], 1),
    "session_anon_mb": round(loaded["anon"] - before["anon"], 1),
    "session_file_mb": round(loaded["file"] - before["file"], 1),
    "rss_after_mb": round(after["rss"], 1), "peak_rss_mb": round(after["hwm"], 1),
    "peak_over_start_mb": round(after["hwm"] - before["rss"], 1),
    "load_cpu_s": round(load_cpu, 2),
    "one_cpu_ms": round(one_cpu / count * 1000, 2), "one_wall_ms": round(one_wall / count * 1000, 2),
    "batch64_cpu_ms": round(batch_cpu / count * 1000, 2), "batch64_wall_ms": round(batch_wall / count * 1000, 2),
    "min_cosine_vs_before": round(cosine, 6), "load_average_1m": round(os.getloadavg()[0], 2),
}))
"""


def main(args: argparse.Namespace) -> dict[str, object]:
    variants = args.variants
    variants = ["before", *[v for v in variants if v != "before"]]  # the reference vectors come first
    rows = []
    with tempfile.TemporaryDirectory() as scratch:
        reference = str(Path(scratch) / "before.npy")
        for variant in variants:
            done = subprocess.run([sys.executable, "-c", PROBE, str(ROOT), variant, str(args.sentences), reference],
                                  capture_output=True, text=True, timeout=600, env={**os.environ})
            if done.returncode != 0:
                raise SystemExit(f"{variant} failed:\n{done.stderr}")
            rows.append(json.loads(done.stdout.strip().splitlines()[-1]))
    return {"benchmark": "onnx_session", "sentences": args.sentences, "cpus": os.cpu_count(), "variants": rows}


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sentences", type=int, default=300)
    parser.add_argument("--variants", nargs="+", default=["before", "shipped", "prepared", "prepared-b64",
                                                          "prepared-spin", "prepared-2t", "prepared-noprepack"])
    print(json.dumps(main(parser.parse_args()), indent=1))
