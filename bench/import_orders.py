"""Benchmark: how long `rapport import` takes for a large orders file.

    python bench/import_orders.py --customers 10000 --orders 100000

Writes synthetic customers and orders CSVs to a temp folder, imports the customers,
then times the orders import (one transaction) and a second, idempotent re-import.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.config import load_config  # noqa: E402
from bot.runtime import Runtime  # noqa: E402

SKUS = ["LMP-DESK-01", "KIT-KTL-01", "RUN-SHO-01", "PET-BED-01", "OUT-TNT-01"]


def write(folder: Path, customers: int, orders: int, seed: int) -> tuple[Path, Path]:
    rng = random.Random(seed)
    people = folder / "customers.csv"
    people.write_text("customer_id,name,email\n" + "".join(f"B-{i},Buyer {i},b{i}@example.com\n" for i in range(customers)))
    lines = folder / "orders.csv"
    with lines.open("w") as out:
        out.write("order_id,customer_id,sku,quantity,unit_price,status,ordered_at,shipped_at,tracking\n")
        for n in range(orders):
            out.write(f"{100000 + n},B-{rng.randrange(customers)},{rng.choice(SKUS)},{rng.randint(1, 3)},19.99,"
                      f"delivered,2026-0{rng.randint(1, 9)}-1{rng.randint(0, 9)}T10:00:00Z,2026-10-01T10:00:00Z,T{n}\n")
    return people, lines


async def main(args: argparse.Namespace) -> dict[str, object]:
    with tempfile.TemporaryDirectory(prefix="rapport-import-") as folder:
        people, orders = write(Path(folder), args.customers, args.orders, args.seed)
        async with Runtime.open(load_config(ROOT / "config.yaml", env={}), Path(folder) / "data") as runtime:
            importer = runtime.importer()
            await importer.import_files([people])
            started = time.perf_counter()
            (first,) = await importer.import_files([orders])
            first_seconds = time.perf_counter() - started
            started = time.perf_counter()
            await importer.import_files([orders])
            again_seconds = time.perf_counter() - started
    return {"benchmark": "import_orders", "orders": args.orders, "written": first.written,
            "import_seconds": round(first_seconds, 1), "reimport_seconds": round(again_seconds, 1),
            "rows_per_second": round(args.orders / first_seconds)}


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--customers", type=int, default=10_000)
    parser.add_argument("--orders", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=3)
    print(json.dumps(asyncio.run(main(parser.parse_args()))))
