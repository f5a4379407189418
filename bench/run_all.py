"""Run every benchmark and print their tables plus one summary of the targets.

``python -m bench`` (or ``python -m bench.run_all``) runs the full sizes (about ten
minutes on two cores); ``--quick`` runs small sizes in about two minutes for a smoke
check. ``--json FILE`` writes every figure for later comparison.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Sequence
from typing import Any

from bench import codat_files, connect_suppliers, memory_scaling
from bench.harness import machine, now_utc, table, verdict


def summary_rows(results: dict[str, Any]) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for run in results["connect_suppliers"]["runs"]:
        r = run["ratios"]
        lat = f"{run['latency_ms']:g} ms"
        rows.append(
            {
                "target": "Connect: adapter >= 3x faster than the recipe baseline",
                "latency": lat,
                "measured": f"{r['speedup_vs_baseline']}x",
                "verdict": verdict(r["target_speedup_3x"]),
            }
        )
        rows.append(
            {
                "target": "Connect: adapter within 1.5x of the plain-HTTP floor",
                "latency": lat,
                "measured": f"{r['adapter_over_floor']}x",
                "verdict": verdict(r["target_floor_1_5x"]),
            }
        )
    scaling = results["memory_scaling"]
    sizes = " vs ".join(f"{row['listings_seeded']:,}" for row in scaling["rows"])
    rows.append(
        {
            "target": f"Memory: peak RSS at {sizes} listings within 1.2x",
            "latency": "0 ms",
            "measured": f"{scaling['peak_ratio']}x",
            "verdict": verdict(scaling["target_1_2x"]),
        }
    )
    for run in results["codat_files"]["runs"]:
        r = run["ratios"]
        rows.append(
            {
                "target": "Codat: adapter peak RSS bounded by the largest archive, not the total",
                "latency": f"{run['latency_ms']:g} ms",
                "measured": (
                    f"+{r['adapter_rss_increment_mb']} MiB vs archive {r['largest_archive_mb']} MiB, "
                    f"total {r['total_archive_mb']} MiB"
                ),
                "verdict": verdict(r["target_bounded"]),
            }
        )
    return rows


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description="Run every benchmark")
    parser.add_argument("--quick", action="store_true", help="small sizes, for a smoke run")
    parser.add_argument("--json", help="also write every figure to this file")
    args = parser.parse_args(argv)
    quick = ["--quick"] if args.quick else []
    started = time.monotonic()
    print(f"# Benchmarks, {now_utc()}, {machine()}\n", flush=True)
    results: dict[str, Any] = {"date": now_utc(), "machine": machine(), "quick": args.quick}
    results["connect_suppliers"] = connect_suppliers.main(quick)
    print(flush=True)
    results["memory_scaling"] = memory_scaling.main(quick)
    print(flush=True)
    results["codat_files"] = codat_files.main(quick)
    results["seconds"] = round(time.monotonic() - started, 1)
    print("\n## Targets\n")
    print(
        table(
            summary_rows(results),
            [("target", "target"), ("latency", "latency"), ("measured", "measured"), ("verdict", "")],
        )
    )
    print(f"\nall benchmarks took {results['seconds']} s", flush=True)
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(results, fh, indent=2)
    return results


if __name__ == "__main__":
    main()
