"""``python -m bench codat``: the Codat pull at shipped defaults against the naive loop, one figure per run.

Both variants pull the same company (``--files`` random files over ``--days`` upload
dates) into a fresh Nuntiq service with ``--latency-ms`` added to every response of
both services:

* ``adapter``: the shipped connector ``connectors.codat_pull_files.run(context)`` with
  its default settings (run lease, checkpoints, delivery ledger, day summaries,
  batched and concurrent uploads);
* ``naive``: the ``codat-files`` SDK with its defaults, one undated download of every
  file into memory, each member uploaded by ``context.api.upload_source_documents``
  one after the other (no ledger: a rerun duplicates every document).

Each repeat runs the variants interleaved (adapter, naive, adapter, ...) in fresh child
processes (:mod:`bench.harness`), and the figures are medians over the repeats. Nuntiq
calls are counted by the Nuntiq sandbox itself (its per-route request counters), never
by the client, and include every call of the run: lease, checkpoints and delta runs,
ledger, day summaries, quarantine and uploads.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import time
from collections.abc import Sequence
from typing import Any

from bench import codat_files
from bench.harness import measure, ratio, table
from bench.services import fresh_customer, nuntiq_sandbox, set_latency
from sandbox.server import RunningServer

VARIANTS = ("adapter", "naive")
#: the figure issue #14 sets for 400 files over 30 days
TARGET_CALLS_PER_FILE = 1.3
TARGET_VS_NAIVE = 1.5


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def timed_adapter(**kwargs: Any) -> dict[str, Any]:
    """The adapter variant plus the child's own CPU time for the run (client CPU)."""
    cpu = _cpu_seconds()
    result = codat_files.variant_adapter(**kwargs)
    result["cpu_seconds"] = _cpu_seconds() - cpu
    return result


def timed_naive(**kwargs: Any) -> dict[str, Any]:
    cpu = _cpu_seconds()
    result = codat_files.variant_naive(**kwargs)
    result["cpu_seconds"] = _cpu_seconds() - cpu
    return result


_REFS = {"adapter": "bench.codat:timed_adapter", "naive": "bench.codat:timed_naive"}


def _nuntiq_requests(nuntiq: RunningServer) -> dict[str, int]:
    stats = nuntiq.stats()
    routes = {k[len("requests ") :]: v for k, v in stats.items() if k.startswith("requests ")}
    return {"total": stats.get("requests", 0), **routes}


def run_once(variant: str, *, codat: RunningServer, files: int, latency_ms: float) -> dict[str, Any]:
    customer = fresh_customer()
    with nuntiq_sandbox() as nuntiq:
        set_latency([codat, nuntiq], latency_ms)
        before = _nuntiq_requests(nuntiq)["total"]
        result = measure(_REFS[variant], nuntiq_url=nuntiq.url, codat_url=codat.url, customer=customer)
        requests = _nuntiq_requests(nuntiq)
        result.update(codat_files.nuntiq_documents(nuntiq, customer))
    calls = requests["total"] - before
    seconds = float(result["seconds"])
    return {
        "variant": variant,
        "seconds": seconds,
        "nuntiq_requests": calls,
        "nuntiq_calls_per_file": round(calls / files, 3),
        "files_per_second": round(files / seconds, 1) if seconds else None,
        "client_cpu_ms_per_file": round(1000 * float(result["cpu_seconds"]) / files, 2),
        "peak_rss_mb": result["peak_rss_mb"],
        "documents": result["source_documents"],
        "documents_created": result["documents_created"],
        "routes": {k: v for k, v in requests.items() if k != "total"},
    }


def _median_row(variant: str, runs: list[dict[str, Any]]) -> dict[str, Any]:
    def med(key: str) -> Any:
        values = [r[key] for r in runs if r.get(key) is not None]
        return round(statistics.median(values), 3) if values else None

    row = {"variant": variant, "repeats": len(runs)}
    for key in (
        "seconds",
        "nuntiq_requests",
        "nuntiq_calls_per_file",
        "files_per_second",
        "client_cpu_ms_per_file",
        "peak_rss_mb",
        "documents",
    ):
        row[key] = med(key)
    row["routes"] = runs[-1]["routes"]
    return row


def run_benchmark(
    *, files: int, days: int, latency_ms: float, repeats: int, kb: tuple[int, int]
) -> dict[str, Any]:
    runs: dict[str, list[dict[str, Any]]] = {v: [] for v in VARIANTS}
    with codat_files.codat_sandbox(files=files, days=days, min_kb=kb[0], max_kb=kb[1]) as codat:
        for _ in range(repeats):
            for variant in VARIANTS:  # interleaved: drift in the machine hits both alike
                runs[variant].append(run_once(variant, codat=codat, files=files, latency_ms=latency_ms))
    rows = {v: _median_row(v, r) for v, r in runs.items()}
    adapter, naive = rows["adapter"], rows["naive"]
    return {
        "files": files,
        "days": days,
        "file_kb": list(kb),
        "latency_ms": latency_ms,
        "repeats": repeats,
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "variants": rows,
        "runs": runs,
        "nuntiq_calls_per_file": adapter["nuntiq_calls_per_file"],
        "vs_naive": ratio(naive["seconds"], adapter["seconds"]),
        "targets": {
            "nuntiq_calls_per_file_max": TARGET_CALLS_PER_FILE,
            "vs_naive_min": TARGET_VS_NAIVE,
        },
    }


COLUMNS = [
    ("variant", "variant"),
    ("seconds", "wall s"),
    ("nuntiq_requests", "Nuntiq requests"),
    ("nuntiq_calls_per_file", "Nuntiq calls/file"),
    ("files_per_second", "files/s"),
    ("client_cpu_ms_per_file", "client CPU ms/file"),
    ("peak_rss_mb", "peak RSS MiB"),
    ("documents", "Nuntiq documents"),
]


def format_report(report: dict[str, Any]) -> str:
    lines = [
        f"Codat pull, {report['files']} files over {report['days']} days, {report['latency_ms']:g} ms "
        f"per response, medians of {report['repeats']} interleaved repeats ({report['date']})",
        table(list(report["variants"].values()), COLUMNS),
        f"adapter Nuntiq calls per file: {report['nuntiq_calls_per_file']} "
        f"(target <= {TARGET_CALLS_PER_FILE}); naive/adapter wall: {report['vs_naive']}x "
        f"(target >= {TARGET_VS_NAIVE}x)",
        "adapter requests by route: "
        + ", ".join(f"{k} {v}" for k, v in sorted(report["variants"]["adapter"]["routes"].items())),
    ]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(prog="python -m bench codat", description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=400)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--latency-ms", type=float, default=50.0)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--min-kb", type=int, default=20)
    parser.add_argument("--max-kb", type=int, default=40)
    parser.add_argument("--json", help="also write the report to this file")
    args = parser.parse_args(argv)
    report = run_benchmark(
        files=args.files,
        days=args.days,
        latency_ms=args.latency_ms,
        repeats=args.repeats,
        kb=(args.min_kb, args.max_kb),
    )
    print(format_report(report), flush=True)
    if args.json:
        os.makedirs(os.path.dirname(os.path.abspath(args.json)), exist_ok=True)
        with open(args.json, "w") as fh:
            json.dump(report, fh, indent=2)
    return report


if __name__ == "__main__":
    main()
