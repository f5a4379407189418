"""Benchmark 2: does the adapter pipeline's memory grow with the number of records?

Runs the Connect suppliers connector (the ``adapter`` variant of
:mod:`bench.connect_suppliers`, page size 1000) over 10,000 and over 100,000 listings,
each in a fresh child process against its own Connect sandbox, and compares peak RSS.
A source that pages lazily and a sink that flushes every 500 items should need about
the same memory for both; the target is a ratio of at most 1.2.
Run: ``python -m bench.memory_scaling [--quick]``.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from typing import Any

from bench.connect_suppliers import run_variant
from bench.harness import ratio, table, verdict
from bench.services import connect_sandbox, nuntiq_sandbox

FULL = (10_000, 100_000)
QUICK = (1_000, 5_000)
VENDORS = 500
QUICK_VENDORS = 100


def run_benchmark(*, sizes: Sequence[int] = FULL, vendors: int = VENDORS) -> dict[str, Any]:
    rows = []
    with nuntiq_sandbox() as nuntiq:
        for listings in sizes:
            with connect_sandbox(listings, vendors) as connect:
                row = run_variant("adapter", connect=connect, nuntiq=nuntiq)
            row["listings_seeded"] = listings
            row["rss_increment_mb"] = round(row["peak_rss_mb"] - row["rss_before_mb"], 1)
            rows.append(row)
    small, large = rows[0], rows[-1]
    peak_ratio = ratio(large["peak_rss_mb"], small["peak_rss_mb"])
    return {
        "vendors": vendors,
        "rows": rows,
        "peak_ratio": peak_ratio,
        "increment_ratio": ratio(large["rss_increment_mb"], small["rss_increment_mb"]),
        "target_1_2x": None if peak_ratio is None else peak_ratio <= 1.2,
    }


COLUMNS = [
    ("listings_seeded", "listings"),
    ("seconds", "wall s"),
    ("peak_rss_mb", "peak RSS MiB"),
    ("rss_before_mb", "RSS after imports MiB"),
    ("rss_increment_mb", "increment MiB"),
    ("suppliers", "Nuntiq suppliers"),
]


def format_report(report: dict[str, Any]) -> str:
    return "\n".join(
        [
            f"Adapter memory scaling (Connect suppliers connector, {report['vendors']} vendors)",
            table(report["rows"], COLUMNS),
            f"peak RSS ratio largest/smallest: {report['peak_ratio']}x "
            f"(target <= 1.2x: {verdict(report['target_1_2x'])}); "
            f"ratio of the increments over the interpreter's start: {report['increment_ratio']}x",
        ]
    )


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="1,000 vs 5,000 listings")
    parser.add_argument("--json", help="also write the report to this file")
    args = parser.parse_args(argv)
    report = run_benchmark(
        sizes=QUICK if args.quick else FULL, vendors=QUICK_VENDORS if args.quick else VENDORS
    )
    print(format_report(report), flush=True)
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(report, fh, indent=2)
    return report


if __name__ == "__main__":
    main()
