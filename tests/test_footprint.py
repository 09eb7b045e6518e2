"""Commands load only what they need: a staff command that embeds nothing never loads the embedding
model (~150 MB), the language model (~50 MB) or the LLM client, and stays small."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# Runs the real CLI in a fresh interpreter, then reports what got imported and its peak RSS (VmHWM:
# ru_maxrss would carry over the forking pytest process's peak, which survives exec).
PROBE = """
import json, re, sys
from bot.cli.app import app
try:
    app(sys.argv[1:], standalone_mode=False)
finally:
    heavy = [m for m in ("onnxruntime", "py3langid", "openai", "discord", "telegram") if m in sys.modules]
    with open("/proc/self/status") as status:
        peak_kb = int(re.search(r"VmHWM:\\s+(\\d+)", status.read()).group(1))
    print(json.dumps({"heavy": heavy, "peak_mb": peak_kb / 1024}), file=sys.stderr)
"""


def run_cli(*args: str) -> tuple[subprocess.CompletedProcess[str], dict[str, object]]:
    result = subprocess.run([sys.executable, "-c", PROBE, *args], cwd=ROOT, capture_output=True, text=True,
                            timeout=600)
    return result, json.loads(result.stderr.strip().splitlines()[-1])


def test_customer_export_loads_no_model(data_dir: Path) -> None:
    imported, _ = run_cli("import", str(ROOT / "samples/customers.csv"), "--data-dir", str(data_dir))
    assert imported.returncode == 0, imported.stderr
    result, probe = run_cli("customer", "export", "C-1001", "--data-dir", str(data_dir))
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["customer"]["external_id"] == "C-1001"
    assert probe["heavy"] == [], probe
    assert probe["peak_mb"] < 350, probe  # 285 MB measured; ~520 MB when it loaded both models


def test_config_check_and_db_upgrade_load_no_model(tmp_path: Path) -> None:
    checked, probe = run_cli("config", "check", str(ROOT / "config.yaml"))
    assert checked.returncode == 0 and checked.stdout.strip() == "ok", checked.stderr
    assert probe["heavy"] == [], probe
    upgraded, probe = run_cli("db", "upgrade", "--data-dir", str(tmp_path))
    assert upgraded.returncode == 0, upgraded.stderr
    assert probe["heavy"] == [], probe


ACTIVATIONS_PROBE = """
import json, os, sys
def rss_mb():
    return int(open("/proc/self/statm").read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
def peak_mb():
    return int(next(l for l in open("/proc/self/status") if l.startswith("VmHWM")).split()[1]) / 1024
from bot.embedder import OnnxMiniLM
model = OnnxMiniLM(threads=1)
model.embed(["warm up"])
before = rss_mb()
words = "my desk lamp arrived damaged and the refund for the second order has not come".split()
model.embed([" ".join(words[: 1 + n % len(words)] * (1 + n % 12)) for n in range(96)])  # 4 to ~200 tokens
print(json.dumps({"peak_mb": peak_mb() - before, "kept_mb": rss_mb() - before}))
"""


def test_long_texts_activations_stay_bounded_and_go_back_to_the_system() -> None:
    # Measured: peak +49 MB, +12 MB kept; without give_freed_memory_back +52 / +47 MB; before the
    # 256-token runs, 16 texts a run whatever their length, ~+200 MB peak.
    result = subprocess.run([sys.executable, "-c", ACTIVATIONS_PROBE], cwd=ROOT, capture_output=True, text=True,
                            timeout=300, env={k: v for k, v in os.environ.items() if k != "MALLOC_MMAP_THRESHOLD_"})
    assert result.returncode == 0, result.stderr
    grew = json.loads(result.stdout.strip().splitlines()[-1])
    assert grew["peak_mb"] < 60 and grew["kept_mb"] < 20, grew
