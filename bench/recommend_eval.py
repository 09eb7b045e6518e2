"""Recommender benchmark: MovieLens-100K offline evaluation and the feedback replay.

    .venv/bin/python bench/recommend_eval.py            # a table
    .venv/bin/python bench/recommend_eval.py --json     # everything as JSON
    .venv/bin/python bench/recommend_eval.py --out bench/results/recommend.json

Needs ``recbole`` (it ships the ml-100k files, read in place) and ``implicit``; takes a couple
of minutes on two cores. ``rapport eval recommendations --dataset movielens-100k`` prints the
same MovieLens figures.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.recommend.evaluation import run_movielens  # noqa: E402
from bot.recommend.replay import replay_rejections  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    parser.add_argument("--out", type=Path, help="also write the JSON here")
    parser.add_argument("--skip-movielens", action="store_true")
    args = parser.parse_args()

    started = time.perf_counter()
    out: dict[str, object] = {}
    if not args.skip_movielens:
        report = run_movielens(args.seed)
        out["movielens"] = report.as_dict()
        out["movielens_details"] = {
            "rapport_params": dataclasses.asdict(report.rapport_params),
            "als_params": dataclasses.asdict(report.als_params),
            "validation_ndcg@10": report.validation_ndcg,
            "tuning_seconds": report.tuning_seconds,
            "test_ablations": report.ablations,
            "seconds": report.total_seconds,
        }
    out["replay"] = replay_rejections(seed=args.seed)
    out["total_seconds"] = round(time.perf_counter() - started, 1)

    text = json.dumps(out, indent=2)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text + "\n")
    if args.json:
        print(text)
        return
    if "movielens" in out:
        ml = out["movielens"]
        print("MovieLens-100K, leave-last-out, full ranking")
        print(f"{'model':<12}{'NDCG@10':>9}{'HR@10':>8}{'fit s':>8}{'p50 ms':>8}")
        for name, metrics in ml["results"].items():
            print(
                f"{name:<12}{metrics['ndcg@10']:>9.4f}{metrics['hr@10']:>8.4f}"
                f"{ml['fit_seconds'][name]:>8.2f}{ml['latency_ms_p50'][name]:>8.3f}"
            )
        details = out["movielens_details"]
        for name, metrics in details["test_ablations"].items():
            print(f"  {name}: NDCG@10 {metrics['ndcg@10']:.4f}  HR@10 {metrics['hr@10']:.4f}")
        print(f"  rapport: {details['rapport_params']}")
        print(f"  als: {details['als_params']}")
        print(f"  validation NDCG@10: {details['validation_ndcg@10']}  tuning s: {details['tuning_seconds']}")
    rp = out["replay"]
    print(
        f"\nFeedback replay: share of '{rp['rejected_category']}' in suggestions per round "
        f"({rp['customers']} customers, k={rp['k']}, catalog share {rp['catalog_share']})"
    )
    print("  learning on :", rp["share_by_round"])
    print("  learning off:", rp["control_share_by_round"])
    print(f"\n{out['total_seconds']} s")


if __name__ == "__main__":
    main()
