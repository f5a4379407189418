"""Benchmark 3: Codat files -> Nuntiq source documents, adapter vs naive.

* ``adapter``: the shipped connector ``connectors.codat_pull_files.run(context)``: one
  list call, one archive per upload date streamed to a temporary file and checked
  (``SafeArchive``), each member streamed into an exactly-once ``DocumentSink``
  (a delivery-ledger row before and after each upload).
* ``naive``: the ``codat-files`` SDK with its defaults, ONE undated download of every
  file read into memory, unzipped in memory, each member uploaded with
  ``context.api.upload_source_documents`` (no ledger, no archive checks).

The company's files are random (incompressible) bytes of 100-200 KB spread evenly over
30 upload dates, so the total (about 300 MB for 2,000 files) is far larger than one
date's archive (about 10 MB): memory that grows with the total shows up at once.
Each variant uploads into a fresh Nuntiq service. Run: ``python -m bench.codat_files
[--quick] [--files N] [--latency MS ...]``.
"""

from __future__ import annotations

import argparse
import base64
import io
import json
import os
import random
import time
import zipfile
from collections.abc import Sequence
from datetime import date, datetime, timedelta
from typing import Any

import httpx
from codat_files import CodatFiles
from codat_files.models import operations

from adapters.codat.filetypes import media_type_for
from adapters.codat.settings import auth_header
from bench.harness import measure, ratio, table, verdict
from bench.services import CODAT_API_KEY, SINCE, fresh_customer, nuntiq_sandbox, set_latency
from connectors import codat_pull_files as connector
from lib.context import Context
from lib.jobcontext import nuntiq_context
from sandbox.server import RunningServer, serve_in_subprocess

COMPANY = "b3c4d5e6-0000-4000-8000-00000000be0c"
CONNECTION = "c4d5e6f7-0000-4000-8000-00000000be0c"
FULL = {"files": 2000, "days": 30, "min_kb": 100, "max_kb": 200}
#: with 50 ms per response the adapter makes ~4 Nuntiq calls per file: fewer files keep it short
FULL_LATENCY_FILES = 500
QUICK = {"files": 120, "days": 6, "min_kb": 20, "max_kb": 40}
LATENCIES = (0.0, 50.0)
#: the document sink spools up to 8 MiB of a file in memory before using disk, so the
#: adapter's memory may exceed one archive by that much and still be bounded
SPOOL_SLACK_MB = 8.0
EXTENSIONS = ("pdf", "csv", "xlsx", "docx", "png", "jpg")
STEMS = ("invoice", "statement", "receipt", "ledger", "contract", "forecast")
START = date(2026, 3, 2)


# -- sandbox ----------------------------------------------------------------------------------


def codat_sandbox(*, files: int, days: int, min_kb: int, max_kb: int, seed: int = 11) -> RunningServer:
    """A Codat service whose one company holds ``files`` random files over ``days`` dates."""
    overrides = {"companies": {COMPANY: {"connections": [CONNECTION], "files": 0, "days": days}}}
    server = serve_in_subprocess("codat", seed_overrides=overrides)
    rng = random.Random(seed)
    try:
        with httpx.Client(base_url=server.url, timeout=120) as admin:
            for i in range(files):
                day = START + timedelta(days=i % days)
                moment = datetime(day.year, day.month, day.day, 8) + timedelta(seconds=(i // days) * 37)
                size = rng.randint(min_kb * 1024, max_kb * 1024)
                body = {
                    "fileName": f"{STEMS[i % len(STEMS)]}-{i:05d}.{EXTENSIONS[i % len(EXTENSIONS)]}",
                    "uploaded": moment.strftime("%Y-%m-%dT%H:%M:%S.000Z"),
                    "sourceType": "BusinessDocuments",
                    "content_b64": base64.b64encode(rng.randbytes(size)).decode(),
                }
                admin.post(f"/_sandbox/codat/companies/{COMPANY}/files", json=body).raise_for_status()
    except BaseException:
        server.stop()
        raise
    return server


def company_bytes(codat: RunningServer) -> int:
    with codat.admin() as admin:
        files = admin.get(f"/_sandbox/codat/companies/{COMPANY}/files").raise_for_status().json()
    return sum(int(f["size"]) for f in files)


# -- variants (each runs in a fresh child process via bench.harness) --------------------------


def _context(nuntiq_url: str, customer: str, codat_url: str, *, keep_log_records: bool) -> Context:
    settings = {
        "secrets": {"codat_api_key": CODAT_API_KEY},
        "config": {
            "connector_name": "bench_codat",
            "codat": {"server_url": codat_url, "company_ids": [COMPANY], "local_timezone": "UTC"},
        },
    }
    return nuntiq_context(
        nuntiq_url,
        customer,
        settings,
        params={"since_override": SINCE},
        log_stream=open(os.devnull, "w"),  # kept open for the life of the child process
        keep_log_records=keep_log_records,
    )


def variant_adapter(*, nuntiq_url: str, codat_url: str, customer: str) -> dict[str, Any]:
    # log records are kept (a few dozen lines) to read each archive's size from them
    context = _context(nuntiq_url, customer, codat_url, keep_log_records=True)
    started = time.perf_counter()
    result = connector.run(context)
    seconds = time.perf_counter() - started
    archives = [
        int(r["detail"]["bytes"])
        for r in context.logger.records or []
        if r.get("step") == "codat.download_files" and "bytes" in (r.get("detail") or {})
    ]
    company = result["companies"][COMPANY]
    return {
        "seconds": seconds,
        "documents": company["uploaded"],
        "archives": len(archives),
        "largest_archive_mb": round(max(archives, default=0) / 2**20, 1),
        "downloaded_mb": round(sum(archives) / 2**20, 1),
    }


def variant_naive(*, nuntiq_url: str, codat_url: str, customer: str) -> dict[str, Any]:
    context = _context(nuntiq_url, customer, codat_url, keep_log_records=False)
    started = time.perf_counter()
    sdk = CodatFiles(auth_header=auth_header(CODAT_API_KEY), server_url=codat_url)  # SDK defaults
    response = sdk.files.download_files(request=operations.DownloadFilesRequest(company_id=COMPANY))
    archive = response.read()  # every file of every date, in memory
    uploaded = 0
    with zipfile.ZipFile(io.BytesIO(archive)) as zipped:
        for info in zipped.infolist():
            content = zipped.read(info)
            context.api.upload_source_documents(
                files=[(info.filename, content, media_type_for(info.filename))],
                source="codat",
                document_type="codat_file",
            )
            uploaded += 1
    seconds = time.perf_counter() - started
    size = len(archive)
    return {
        "seconds": seconds,
        "documents": uploaded,
        "archives": 1,
        "largest_archive_mb": round(size / 2**20, 1),
        "downloaded_mb": round(size / 2**20, 1),
    }


# -- orchestration ----------------------------------------------------------------------------

VARIANTS = {
    "adapter": "bench.codat_files:variant_adapter",
    "naive": "bench.codat_files:variant_naive",
}


def nuntiq_documents(nuntiq: RunningServer, customer: str) -> dict[str, int]:
    with nuntiq.admin() as admin:
        counts = admin.get("/_sandbox/nuntiq/counts", params={"customer_number": customer}).json()
        written = admin.get("/_sandbox/nuntiq/counters", params={"customer_number": customer}).json()
    return {
        "source_documents": counts.get("source_documents", 0),
        "documents_created": written.get("source_documents_created", 0),
    }


def run_variant(name: str, *, codat: RunningServer, latency_ms: float) -> dict[str, Any]:
    customer = fresh_customer()
    with nuntiq_sandbox() as nuntiq:
        set_latency([codat, nuntiq], latency_ms)
        result = measure(VARIANTS[name], nuntiq_url=nuntiq.url, codat_url=codat.url, customer=customer)
        result.update(nuntiq_documents(nuntiq, customer))
    result["variant"] = name
    return result


def run_benchmark(
    *,
    files: int,
    days: int,
    min_kb: int,
    max_kb: int,
    latencies: Sequence[float] = LATENCIES,
    latency_files: int | None = None,
) -> dict[str, Any]:
    """Both variants at each latency; ``latency_files`` (if given) sizes the runs with latency."""
    report: dict[str, Any] = {"days": days, "file_kb": [min_kb, max_kb], "runs": []}
    plans: dict[int, list[float]] = {}
    for latency in latencies:
        n = files if not latency or latency_files is None else latency_files
        plans.setdefault(n, []).append(latency)
    for n, lats in plans.items():
        with codat_sandbox(files=n, days=days, min_kb=min_kb, max_kb=max_kb) as codat:
            total = company_bytes(codat)
            for latency in lats:
                rows = [run_variant(v, codat=codat, latency_ms=latency) for v in VARIANTS]
                by = {r["variant"]: r for r in rows}
                report["runs"].append(
                    {
                        "latency_ms": latency,
                        "files": n,
                        "total_mb": round(total / 2**20, 1),
                        "rows": rows,
                        "ratios": _ratios(by),
                    }
                )
            set_latency([codat], 0)
    report["runs"].sort(key=lambda r: r["latency_ms"])
    return report


def _ratios(by: dict[str, dict[str, Any]]) -> dict[str, Any]:
    adapter, naive = by["adapter"], by["naive"]
    increment = adapter["peak_rss_mb"] - adapter["rss_before_mb"]
    largest = adapter["largest_archive_mb"]
    total = naive["downloaded_mb"]
    return {
        "naive_over_adapter_seconds": ratio(naive["seconds"], adapter["seconds"]),
        "naive_over_adapter_rss": ratio(naive["peak_rss_mb"], adapter["peak_rss_mb"]),
        "adapter_rss_mb": adapter["peak_rss_mb"],
        "adapter_rss_increment_mb": round(increment, 1),
        "largest_archive_mb": largest,
        "total_archive_mb": total,
        "adapter_rss_over_largest_archive": ratio(adapter["peak_rss_mb"], largest),
        "adapter_rss_over_total": ratio(adapter["peak_rss_mb"], total),
        "adapter_increment_over_largest_archive": ratio(increment, largest),
        # bounded by the largest archive: what the run added on top of the interpreter
        # stays within one archive (plus the sink's in-memory spool allowance)
        "target_bounded": increment <= largest + SPOOL_SLACK_MB,
    }


COLUMNS = [
    ("variant", "variant"),
    ("seconds", "wall s"),
    ("peak_rss_mb", "peak RSS MiB"),
    ("rss_before_mb", "RSS after imports MiB"),
    ("archives", "archives"),
    ("largest_archive_mb", "largest archive MiB"),
    ("downloaded_mb", "downloaded MiB"),
    ("documents", "uploaded"),
    ("source_documents", "Nuntiq documents"),
]


def format_report(report: dict[str, Any]) -> str:
    lo, hi = report["file_kb"]
    out = [f"Codat files -> source documents: files of {lo}-{hi} KB over {report['days']} dates"]
    for run in report["runs"]:
        r = run["ratios"]
        out.append(
            f"\nadded latency {run['latency_ms']:g} ms per response; {run['files']} files, "
            f"{run['total_mb']} MiB in total"
        )
        out.append(table(run["rows"], COLUMNS))
        out.append(
            f"naive/adapter wall: {r['naive_over_adapter_seconds']}x; naive/adapter peak RSS: "
            f"{r['naive_over_adapter_rss']}x; adapter peak RSS {r['adapter_rss_mb']} MiB "
            f"(+{r['adapter_rss_increment_mb']} MiB over its start) vs largest archive "
            f"{r['largest_archive_mb']} MiB and total {r['total_archive_mb']} MiB; "
            f"bounded by the largest archive: {verdict(r['target_bounded'])}"
        )
    return "\n".join(out)


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="120 files of 20-40 KB over 6 dates")
    parser.add_argument("--files", type=int, help="files for the run without latency")
    parser.add_argument("--latency-files", type=int, help="files for runs with latency")
    parser.add_argument("--latency", type=float, action="append", help="ms; repeatable (default 0 and 50)")
    parser.add_argument("--json", help="also write the report to this file")
    args = parser.parse_args(argv)
    sizes = dict(QUICK if args.quick else FULL)
    if args.files:
        sizes["files"] = args.files
    latency_files = args.latency_files or (None if args.quick else FULL_LATENCY_FILES)
    report = run_benchmark(**sizes, latencies=args.latency or LATENCIES, latency_files=latency_files)
    print(format_report(report), flush=True)
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(report, fh, indent=2)
    return report


if __name__ == "__main__":
    main()
