"""``python -m bench connect``: Connect listings -> Nuntiq suppliers, one command per figure.

Three variants against the same sandboxes (each in its own process, each variant in a
fresh child process, rounds interleaved, medians reported):

* ``adapter``: the shipped connector ``connect_pull_suppliers`` at its shipped defaults
  (nothing but the endpoint and the connector name configured), which asks Connect to
  leave out the nested objects it does not map (``select(-...)``);
* ``adapter_whole``: the same with ``connect_whole_records`` set, reading whole listings
  as the floor does: what the adapter costs where a server ignores the selection;
* ``recipe``: the framework's pull recipe applied to Connect (see
  :func:`bench.connect_suppliers.variant_baseline`);
* ``floor``: the cheapest correct sequential read: every listing read once, one request
  at a time, plain ``httpx``, pages of 1000, keyset by ``updated``, no lookups, no writes.

Per variant: wall seconds, requests (Connect and Nuntiq, everything the run sent), records
per second, client CPU per record (the child's own CPU time: the sandboxes run in other
processes, so their work is not in it), peak RSS. The JSON holds ``vs_recipe`` (recipe
seconds / adapter seconds), ``vs_floor`` (adapter seconds / floor seconds),
``client_us_per_record`` and ``requests_vs_minimum`` (all the adapter's requests over a
sequential run's minimum: list pages at 1000 + partner batches + supplier writes + delta
calls).
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import time
from collections.abc import Sequence
from typing import Any

import httpx

from bench.connect_suppliers import _context, nuntiq_suppliers, variant_baseline
from bench.harness import measure, now_utc, table
from bench.services import (
    CONNECT_API_KEY,
    SINCE,
    connect_sandbox,
    fresh_customer,
    nuntiq_sandbox,
    set_latency,
)
from connectors import connect_pull_suppliers as connector
from sandbox.server import RunningServer

__all__ = ["main", "run"]

VENDORS = 500
FLOOR_PAGE = 1000
PARTNER_CHUNK = 100  # ids per /partners in(id,...) call (adapters.connect.partners.PREFETCH_CHUNK)
SUPPLIER_BATCH = 1000  # rows per supplier write (lib.objects.base.MAX_BATCH)
DELTA_CALLS = 2  # start and complete of one delta run
VARIANTS = ("adapter", "adapter_whole", "recipe", "floor")
#: the adapter's config on top of ``adapter_config``, per adapter variant
_ADAPTER_CONFIG: dict[str, dict[str, Any]] = {
    "adapter": {},
    "adapter_whole": {"connect_whole_records": True},
}


def _cpu() -> float:
    return time.process_time()


def variant_adapter(
    *, nuntiq_url: str, connect_url: str, customer: str, config: dict[str, Any] | None = None
) -> dict[str, Any]:
    """The connector at its shipped defaults; ``config`` (e.g. another window count) on top."""
    config = {"connector_name": "bench_connect", "connect_endpoint": connect_url, **(config or {})}
    context = _context(nuntiq_url, customer, config)
    cpu, started = _cpu(), time.perf_counter()
    result = connector.run(context)
    return {
        "seconds": time.perf_counter() - started,
        "cpu_seconds": _cpu() - cpu,
        "records": result["items_read"],
    }


def variant_recipe(*, nuntiq_url: str, connect_url: str, customer: str) -> dict[str, Any]:
    cpu = _cpu()
    result = variant_baseline(nuntiq_url=nuntiq_url, connect_url=connect_url, customer=customer)
    return {"seconds": result["seconds"], "cpu_seconds": _cpu() - cpu, "records": result["listings"]}


def variant_floor(*, connect_url: str) -> dict[str, Any]:
    """Keyset by ``updated``: ``ge`` the last value, the ids already read at it left out."""
    cpu, started = _cpu(), time.perf_counter()
    count = 0
    last: str | None = None
    at_last: list[str] = []
    with httpx.Client(
        base_url=f"{connect_url}/public/v1", headers={"Authorization": CONNECT_API_KEY}, timeout=60
    ) as http:
        while True:
            rql = f"ge(updated,{SINCE})"
            if last is not None:
                rql = f"or(gt(updated,{last}),and(eq(updated,{last}),out(id,({','.join(at_last)}))))"
            url = f"/listings?{rql}&ordering(updated)&limit={FLOOR_PAGE}"
            items = http.get(url).raise_for_status().json()
            count += len(items)
            if len(items) < FLOOR_PAGE:
                break
            value = items[-1]["updated"]
            same = [i["id"] for i in items if i["updated"] == value]
            at_last = same + at_last if value == last else same
            last = value
    return {"seconds": time.perf_counter() - started, "cpu_seconds": _cpu() - cpu, "records": count}


_REFS = {name: f"bench.connect:variant_{name}" for name in VARIANTS if name not in _ADAPTER_CONFIG}
_REFS.update(dict.fromkeys(_ADAPTER_CONFIG, "bench.connect:variant_adapter"))


def _reset(server: RunningServer) -> None:
    with server.admin() as admin:
        admin.post("/_sandbox/stats/reset").raise_for_status()


def _one(
    name: str, connect: RunningServer, nuntiq: RunningServer, config: dict[str, Any] | None = None
) -> dict[str, Any]:
    kwargs: dict[str, Any] = {"connect_url": connect.url}
    if name in _ADAPTER_CONFIG and (config or _ADAPTER_CONFIG[name]):
        kwargs["config"] = {**(config or {}), **_ADAPTER_CONFIG[name]}
    customer = fresh_customer()
    if name != "floor":
        kwargs.update(nuntiq_url=nuntiq.url, customer=customer)
    _reset(connect)
    _reset(nuntiq)
    row = measure(_REFS[name], **kwargs)
    row["connect_requests"] = connect.stats().get("requests", 0)
    row["nuntiq_requests"] = nuntiq.stats().get("requests", 0) if name != "floor" else 0
    row["requests"] = row["connect_requests"] + row["nuntiq_requests"]
    if name != "floor":
        row.update(nuntiq_suppliers(nuntiq, customer))
    return row


def _median(runs: list[dict[str, Any]]) -> dict[str, Any]:
    ordered = sorted(runs, key=lambda r: float(r["seconds"]))
    row = dict(ordered[len(ordered) // 2])
    row["seconds_runs"] = [round(float(r["seconds"]), 2) for r in runs]
    row["cpu_seconds"] = statistics.median(float(r["cpu_seconds"]) for r in runs)
    row["peak_rss_mb"] = max(float(r["peak_rss_mb"]) for r in runs)
    records = max(1, int(row["records"]))
    row["records_per_second"] = round(records / float(row["seconds"]), 1)
    row["client_us_per_record"] = round(float(row["cpu_seconds"]) / records * 1e6, 2)
    return row


def minimum_requests(records: int, vendors: int) -> int:
    """A sequential run's fewest requests: list pages at 1000, partner batches, supplier writes, delta."""
    pages = records // FLOOR_PAGE + 1  # the last page is short (or empty), which ends the list
    return pages + math.ceil(vendors / PARTNER_CHUNK) + math.ceil(vendors / SUPPLIER_BATCH) + DELTA_CALLS


def run(
    *,
    records: int,
    latency_ms: float,
    repeats: int = 3,
    vendors: int = VENDORS,
    adapter_config: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Every variant ``repeats`` times, rounds interleaved; medians and ratios.

    ``adapter_config`` is added to the adapter's config (None: shipped defaults).
    """
    with connect_sandbox(records, vendors) as connect, nuntiq_sandbox() as nuntiq:
        set_latency([connect, nuntiq], latency_ms)
        runs: dict[str, list[dict[str, Any]]] = {name: [] for name in VARIANTS}
        for _ in range(repeats):
            for name in VARIANTS:
                runs[name].append(_one(name, connect, nuntiq, adapter_config))
        set_latency([connect, nuntiq], 0)
    rows = {name: _median(found) | {"variant": name} for name, found in runs.items()}
    adapter, whole, recipe, floor = rows["adapter"], rows["adapter_whole"], rows["recipe"], rows["floor"]
    minimum = minimum_requests(records, vendors)
    return {
        "measured_at": now_utc(),
        "records": records,
        "vendors": vendors,
        "latency_ms": latency_ms,
        "repeats": repeats,
        "adapter_config": adapter_config or {},
        "rows": list(rows.values()),
        "vs_recipe": round(float(recipe["seconds"]) / float(adapter["seconds"]), 2),
        "vs_floor": round(float(adapter["seconds"]) / float(floor["seconds"]), 2),
        "client_us_per_record": adapter["client_us_per_record"],
        "floor_client_us_per_record": floor["client_us_per_record"],
        "whole_listings_client_us_per_record": whole["client_us_per_record"],
        "whole_listings_vs_floor": round(float(whole["seconds"]) / float(floor["seconds"]), 2),
        "minimum_requests": minimum,
        "requests_vs_minimum": round(int(adapter["requests"]) / minimum, 3),
    }


COLUMNS = [
    ("variant", "variant"),
    ("seconds", "wall s"),
    ("seconds_runs", "runs s"),
    ("records", "records"),
    ("records_per_second", "records/s"),
    ("client_us_per_record", "client CPU us/record"),
    ("connect_requests", "Connect requests"),
    ("nuntiq_requests", "Nuntiq requests"),
    ("peak_rss_mb", "peak RSS MiB"),
    ("suppliers", "suppliers"),
]


def format_report(report: dict[str, Any]) -> str:
    return "\n".join(
        [
            f"Connect -> suppliers: {report['records']:,} listings, {report['vendors']} vendors, "
            f"{report['latency_ms']:g} ms per response, median of {report['repeats']} interleaved runs "
            f"({report['measured_at']})",
            table(report["rows"], COLUMNS),
            f"vs_recipe {report['vs_recipe']}x, vs_floor {report['vs_floor']}x, client "
            f"{report['client_us_per_record']} us/record (floor {report['floor_client_us_per_record']}, "
            f"whole listings {report['whole_listings_client_us_per_record']}), "
            f"requests {report['requests_vs_minimum']}x a sequential minimum of {report['minimum_requests']}",
        ]
    )


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(prog="python -m bench connect", description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=100_000, help="listings in the sandbox")
    parser.add_argument("--latency-ms", type=float, default=50.0, help="added to every response")
    parser.add_argument("--repeats", type=int, default=3, help="interleaved runs per variant (median)")
    parser.add_argument("--vendors", type=int, default=VENDORS)
    parser.add_argument(
        "--parallel-windows", type=int, help="connect_parallel_windows for the adapter (default: shipped)"
    )
    parser.add_argument("--json", help="also write the report to this file")
    args = parser.parse_args(argv)
    extra = {"connect_parallel_windows": args.parallel_windows} if args.parallel_windows else None
    report = run(
        records=args.records,
        latency_ms=args.latency_ms,
        repeats=args.repeats,
        vendors=args.vendors,
        adapter_config=extra,
    )
    print(format_report(report), flush=True)
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(report, fh, indent=2)
    return report
