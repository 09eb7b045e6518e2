"""Peak RSS, start-up and throughput of `rapport serve` and `rapport run` as real processes under load.

    python bench/serve_load.py --command serve --conversations 30 --messages 300 \
        [--chroma-url http://127.0.0.1:8766] [--data-dir DIR]
    python bench/serve_load.py --command run ...

Starts a fake Telegram Bot API on loopback (``tests/fakes/telegram.py``), then the command as its
own process with Telegram enabled against the fake: ``serve`` in webhook mode (each message is a
POST /telegram/webhook with the secret header, as Telegram sends it), ``run`` in polling mode (each
message is an update the fake hands to getUpdates). ``--conversations`` customers talk at once, each
sending its next message when the bot's reply to the last reached the fake (closed loop), until
``--messages`` were answered. Reports start-up (process start to /healthz 200 for serve; to the
first getUpdates for run), the process's peak RSS (VmHWM) and CPU seconds before and after the
load, replies per second and p50/p99 from a message's post to its reply, and the machine's load
average. DIR: an existing data dir (e.g. one bench/turn_latency.py filled); default: a new one.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import random
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.fakes.telegram import TOKEN, FakeTelegram, private_message  # noqa: E402

SECRET = "bench-secret"
UNANSWERED: list[str] = []  # the texts that got no reply in time (bench questions, no customer data)
QUESTIONS = [
    "how long does shipping take?", "what is your return policy?", "where is my order?",
    "can I change my delivery address?", "do you have a dog bed?", "how do I reset my password?",
    "my refund hasn't arrived yet", "hi", "thanks!", "is there a warranty on lamps?",
    "can I pay with a gift card?", "what's the weather on Mars?",
]


def proc_status(pid: int) -> dict[str, float]:
    with open(f"/proc/{pid}/status") as status:
        fields = dict(line.split(":", 1) for line in status if ":" in line)
    with open(f"/proc/{pid}/stat") as stat:
        ticks = stat.read().rsplit(")", 1)[1].split()
    hz = os.sysconf("SC_CLK_TCK")
    return {"rss_mb": round(int(fields["VmRSS"].split()[0]) / 1024, 1),
            "peak_rss_mb": round(int(fields["VmHWM"].split()[0]) / 1024, 1),
            "cpu_s": round((int(ticks[11]) + int(ticks[12])) / hz, 1)}


def bench_config(folder: Path, api_url: str) -> Path:
    """config.yaml with the Telegram API at the fake; knowledge/ linked beside it (paths are relative)."""
    text = (ROOT / "config.yaml").read_text()
    head, tail = text.split("  telegram:", 1)
    tail = tail.replace('api_base_url: ""', f'api_base_url: "{api_url}"', 1)
    (folder / "config.yaml").write_text(head + "  telegram:" + tail)
    (folder / "knowledge").symlink_to(ROOT / "knowledge")
    return folder / "config.yaml"


async def main(args: argparse.Namespace) -> dict[str, object]:
    scratch = Path(tempfile.mkdtemp(prefix="rapport-serve-load-"))
    data_dir = Path(args.data_dir) if args.data_dir else scratch / "data"
    rng = random.Random(args.seed)
    async with FakeTelegram() as telegram:
        config = bench_config(scratch, telegram.url)
        env = {**os.environ, "TELEGRAM_ENABLED": "true", "TELEGRAM_BOT_TOKEN": TOKEN,
               "TELEGRAM_MODE": "webhook" if args.command == "serve" else "polling",
               "TELEGRAM_WEBHOOK_SECRET": SECRET, "RAPPORT_LOG_FORMAT": "json"}
        if args.chroma_url:
            env["CHROMA_URL"] = args.chroma_url
        command = [str(ROOT / ".venv/bin/rapport"), args.command, "--config", str(config), "--data-dir", str(data_dir)]
        if args.command == "serve":
            command += ["--port", str(args.port), "--host", "127.0.0.1"]
        started = time.perf_counter()
        process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=open(scratch / "log", "w"))
        base = f"http://127.0.0.1:{args.port}"
        try:
            # No keep-alive: uvicorn closes an idle connection after 5 s, and a post racing that close fails.
            async with httpx.AsyncClient(timeout=60, limits=httpx.Limits(max_keepalive_connections=0)) as client:
                while True:  # ready: /healthz answers (serve), or the first getUpdates (run)
                    if process.poll() is not None:
                        raise SystemExit(f"{args.command} exited {process.returncode}: {(scratch / 'log').read_text()[-2000:]}")
                    if args.command == "serve":
                        try:
                            if (await client.get(f"{base}/healthz")).status_code == 200:
                                break
                        except httpx.TransportError:
                            pass
                    elif telegram.polled:  # getUpdates is kept in .polled, not in the call log
                        break
                    if time.perf_counter() - started > args.startup_timeout:
                        raise SystemExit(f"{args.command} not ready after {args.startup_timeout:.0f} s")
                    await asyncio.sleep(0.05)
                startup = time.perf_counter() - started
                idle = proc_status(process.pid)
                timings = await load(args, telegram, client, base, rng)
                loaded = proc_status(process.pid)
                api_calls = dict(Counter(call.method for call in telegram.log.calls))
        finally:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                process.kill()
    wall, latencies, unanswered = timings
    if not unanswered:  # kept when the run failed or a message went unanswered: the command's log is there
        shutil.rmtree(scratch, ignore_errors=True)
    ordered = sorted(latencies)
    return {
        "benchmark": "serve_load", "command": args.command, "conversations": args.conversations,
        "messages": args.messages, "answered": len(ordered), "unanswered": unanswered, "unanswered_texts": UNANSWERED,
        "log": str(scratch / "log") if unanswered else None, "vectors": "chroma server" if args.chroma_url else "embedded chroma",
        "startup_seconds": round(startup, 2), "idle": idle, "after_load": loaded,
        "replies_per_second": round(len(ordered) / wall, 1),
        "p50_ms": round(statistics.median(ordered), 1),
        "p99_ms": round(ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))], 1),
        "load_average_1m": round(os.getloadavg()[0], 2), "telegram_api_calls": api_calls,
    }


async def load(args: argparse.Namespace, telegram: FakeTelegram, client: httpx.AsyncClient, base: str,
               rng: random.Random) -> tuple[float, list[float], int]:
    """Closed loop: each conversation posts, waits for its reply, posts again; returns wall and latencies."""
    replies: dict[int, asyncio.Event] = {}
    seen = [0]
    latencies: list[float] = []
    sent, unanswered = [0], [0]
    # Unique per run: a reused data dir's inbox would take repeated ids for redeliveries (and not answer).
    message_ids = itertools.count(int(time.time()) % 1_000_000 * 10_000)
    first_user = 10_000_000 + int(time.time()) % 1_000_000 * 1_000

    async def watch() -> None:  # the fake records calls; wake the conversation whose chat got a reply
        while True:
            calls = telegram.log.calls
            for call in calls[seen[0]:]:
                if call.method in ("sendMessage", "sendDocument"):
                    event = replies.get(int(call.params["chat_id"]))
                    if event is not None:
                        event.set()
            seen[0] = len(calls)
            await asyncio.sleep(0.01)

    async def conversation(index: int) -> None:
        # New customers each run: on a reused DIR an earlier run's conversation may be handed off to a
        # person, and the bot rightly stays silent in it.
        user = {"id": first_user + index, "is_bot": False, "first_name": f"Bench{index}", "language_code": "en"}
        replies[user["id"]] = event = asyncio.Event()
        while sent[0] < args.messages:
            sent[0] += 1
            update = private_message(rng.choice(QUESTIONS), message_id=next(message_ids), user=user)
            event.clear()
            posted = time.perf_counter()
            if args.command == "serve":
                response = await client.post(f"{base}/telegram/webhook", json=update,
                                             headers={"X-Telegram-Bot-Api-Secret-Token": SECRET})
                response.raise_for_status()
            else:
                await telegram.push(update)
            try:
                await asyncio.wait_for(event.wait(), args.reply_timeout)
            except TimeoutError:  # counted; the conversation goes on
                unanswered[0] += 1
                UNANSWERED.append(update["message"]["text"])
                continue
            latencies.append((time.perf_counter() - posted) * 1000)

    watcher = asyncio.create_task(watch())
    started = time.perf_counter()
    try:
        await asyncio.gather(*(conversation(i) for i in range(args.conversations)))
    finally:
        watcher.cancel()
    return time.perf_counter() - started, latencies, unanswered[0]


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--command", choices=["serve", "run"], default="serve")
    parser.add_argument("--conversations", type=int, default=30)
    parser.add_argument("--messages", type=int, default=300)
    parser.add_argument("--chroma-url", help="vectors in this Chroma server (default: embedded in the data dir)")
    parser.add_argument("--data-dir", help="an existing data dir (default: a new one)")
    parser.add_argument("--port", type=int, default=8799)
    parser.add_argument("--reply-timeout", type=float, default=30.0,
                        help="seconds to wait for one reply; later ones count as unanswered")
    parser.add_argument("--startup-timeout", type=float, default=300.0)
    parser.add_argument("--seed", type=int, default=7)
    print(json.dumps(asyncio.run(main(parser.parse_args()))))
