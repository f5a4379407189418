"""Benchmark 1: Connect listings -> Nuntiq suppliers (vendors), three ways.

* ``adapter``: the shipped connector ``connectors.connect_pull_suppliers.run(context)``
  (ListingsSource keyset paging + PartnerDirectory + LoadSink + ``sync``), with
  ``connect_page_size`` 1000 (the largest page the API serves); ``adapter_p100`` is
  the same connector left at the default page size of 100, for reference.
* ``baseline``: the framework's pull recipe applied to Connect: ``ConnectClient`` with
  its defaults (``max_retries=3``, ``resourceset_append=True``: every page is kept in
  memory), ``client.listings.all().filter(...).order_by("updated")`` offset-paged at
  100, one ``SupplierLoad`` entity per vendor (the same writes as the adapter: one
  partner lookup and one supplier per vendor), ``save_all()`` every 500 listings, the
  watermark tracked by comparing timestamp strings.
* ``floor``: plain ``httpx`` offset paging at 1000 a page, JSON parsing only, no writes.
* ``adapter_source`` (diagnostic): only the adapter's ``ListingsSource.fetch_since`` at
  1000 a page (keyset paging, page checks, ``RecordItem`` with parsed cursors), without
  partner lookups or Nuntiq writes: what the paging layer costs next to the floor.

Every variant is a full backfill (``since_override`` far in the past) into a fresh
Nuntiq customer. Run: ``python -m bench.connect_suppliers [--quick] [--listings N]``.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from collections.abc import Sequence
from typing import Any

import httpx
from connect.client import ConnectClient, R

from adapters.connect import ListingsSource
from adapters.connect.settings import ConnectSettings, build_client
from adapters.cursor import parse_timestamp
from bench.harness import measure, ratio, table, verdict
from bench.services import (
    CONNECT_API_KEY,
    SINCE,
    connect_sandbox,
    fresh_customer,
    nuntiq_sandbox,
    set_latency,
)
from connectors import connect_pull_suppliers as connector
from lib.api_client import ApiClient
from lib.context import Context
from lib.delta import delta_run
from lib.jobcontext import issue_job_token, nuntiq_context
from lib.objects.supplier import SupplierLoad
from sandbox.server import RunningServer

FULL = {"listings": 100_000, "vendors": 500}
QUICK = {"listings": 5_000, "vendors": 100}
LATENCIES = (0.0, 50.0)
CONNECTOR_NAME = "bench_connect"
STREAM = "listings_vendors"
RECIPE_PAGE = 100
FLUSH_EVERY = 500
FLOOR_PAGE = 1000
SERVER_FIELDS = {"id", "created_at", "updated_at"}


def _context(nuntiq_url: str, customer: str, config: dict[str, Any] | None = None) -> Context:
    settings = {"secrets": {"connect_api_key": CONNECT_API_KEY}, "config": config or {}}
    return nuntiq_context(
        nuntiq_url,
        customer,
        settings,
        params={"since_override": SINCE},
        log_stream=open(os.devnull, "w"),  # kept open for the life of the child process
        keep_log_records=False,
    )


# -- variants (each runs in a fresh child process via bench.harness) --------------------------


def variant_adapter(*, nuntiq_url: str, connect_url: str, customer: str, page_size: int) -> dict[str, Any]:
    config = {
        "connector_name": CONNECTOR_NAME,
        "connect_endpoint": connect_url,
        "connect_page_size": page_size,
    }
    context = _context(nuntiq_url, customer, config)
    started = time.perf_counter()
    result = connector.run(context)
    seconds = time.perf_counter() - started
    return {"seconds": seconds, "listings": result["items_read"], "vendors": result["vendors"]}


def _map_vendor(listing: dict[str, Any], partner: dict[str, Any], load: SupplierLoad) -> None:
    """The connector's supplier fields, written recipe-style (same Nuntiq rows)."""
    vendor = listing["vendor"]
    supplier = load.new()
    supplier.supplier_number = vendor["id"]
    supplier.supplier_name = partner.get("name") or vendor.get("name") or vendor["id"]
    supplier.is_active = partner.get("status", "active") == "active"
    address = connector.split_headquarters(str(partner.get("headquarters") or ""))
    if address:
        location = supplier.new_location()
        location.location_code = "MAIN"
        location.location_name = "Headquarters"
        location.is_active = True
        entry = location.new_address()
        for name, value in address.items():
            setattr(entry, name, value)


def variant_baseline(*, nuntiq_url: str, connect_url: str, customer: str) -> dict[str, Any]:
    context = _context(nuntiq_url, customer)
    started = time.perf_counter()
    client = ConnectClient(CONNECT_API_KEY, endpoint=f"{connect_url}/public/v1")  # SDK defaults
    load = SupplierLoad(context)
    partners: dict[str, dict[str, Any]] = {}
    count = 0
    with delta_run(context, "bench_connect_recipe", STREAM, cursor_type="timestamp_utc") as run:
        since_iso = str(context.get_param("since_override"))
        max_updated = since_iso
        listings = client.listings.all().filter(R().updated.ge(since_iso)).order_by("updated")
        for listing in listings:
            if listing.get("updated", "") > max_updated:
                max_updated = listing["updated"]
            vendor_id = listing["vendor"]["id"]
            if vendor_id not in partners:
                partners[vendor_id] = client.partners[vendor_id].get()
                _map_vendor(listing, partners[vendor_id], load)
            count += 1
            if count % FLUSH_EVERY == 0:
                load.save_all()
                context.logger.info(f"Flushed {count} so far", step="save")
        load.save_all()
        run.set_new_cursor(max_updated)
        run.set_records_processed(count)
        run.set_metadata({"lower_bound_used": since_iso})
    seconds = time.perf_counter() - started
    return {"seconds": seconds, "listings": count, "vendors": len(partners)}


def variant_adapter_source(*, connect_url: str, page_size: int) -> dict[str, Any]:
    client = build_client(ConnectSettings(endpoint=connect_url, page_size=page_size), CONNECT_API_KEY)
    source = ListingsSource(client, page_size=page_size)
    started = time.perf_counter()
    count = sum(1 for _ in source.fetch_since(parse_timestamp(SINCE)))
    seconds = time.perf_counter() - started
    return {"seconds": seconds, "listings": count, "vendors": None}


def variant_floor(*, connect_url: str, page_size: int = FLOOR_PAGE) -> dict[str, Any]:
    started = time.perf_counter()
    count = 0
    offset = 0
    with httpx.Client(
        base_url=f"{connect_url}/public/v1", headers={"Authorization": CONNECT_API_KEY}, timeout=60
    ) as http:
        while True:
            url = f"/listings?ge(updated,{SINCE})&ordering(updated)&limit={page_size}&offset={offset}"
            items = http.get(url).raise_for_status().json()
            count += len(items)
            offset += page_size
            if len(items) < page_size:
                break
    seconds = time.perf_counter() - started
    return {"seconds": seconds, "listings": count, "vendors": None}


# -- orchestration ----------------------------------------------------------------------------

VARIANTS: dict[str, tuple[str, dict[str, Any]]] = {
    "adapter": ("bench.connect_suppliers:variant_adapter", {"page_size": FLOOR_PAGE}),
    "adapter_p100": ("bench.connect_suppliers:variant_adapter", {"page_size": RECIPE_PAGE}),
    "baseline": ("bench.connect_suppliers:variant_baseline", {}),
    "floor": ("bench.connect_suppliers:variant_floor", {}),
    "adapter_source": ("bench.connect_suppliers:variant_adapter_source", {"page_size": FLOOR_PAGE}),
}
#: variants that write nothing to Nuntiq
NO_WRITES = {"floor", "adapter_source"}


def nuntiq_suppliers(nuntiq: RunningServer, customer: str) -> dict[str, int]:
    with nuntiq.admin() as admin:
        counts = admin.get("/_sandbox/nuntiq/counts", params={"customer_number": customer}).json()
        written = admin.get("/_sandbox/nuntiq/counters", params={"customer_number": customer}).json()
    return {"suppliers": counts.get("suppliers", 0), "suppliers_written": written.get("suppliers_written", 0)}


def supplier_rows(nuntiq: RunningServer, customer: str) -> list[dict[str, Any]]:
    """Every supplier stored for ``customer``, without server-assigned fields, by number."""
    api = ApiClient(nuntiq.url, issue_job_token(nuntiq, customer), customer)
    rows: list[dict[str, Any]] = []
    try:
        page = 1
        while True:
            body = api.get("/v1/supplier", params={"page": page, "limit": 100})
            items = body.get("items", [])
            rows += [{k: v for k, v in i.items() if k not in SERVER_FIELDS} for i in items]
            if len(items) < 100:
                break
            page += 1
    finally:
        api.close()
    return sorted(rows, key=lambda r: str(r.get("supplier_number")))


def run_variant(
    name: str, *, connect: RunningServer, nuntiq: RunningServer, extra: dict[str, Any] | None = None
) -> dict[str, Any]:
    ref, kwargs = VARIANTS[name]
    kwargs = {**kwargs, **(extra or {}), "connect_url": connect.url}
    customer = fresh_customer()
    if name not in NO_WRITES:
        kwargs.update(nuntiq_url=nuntiq.url, customer=customer)
    with connect.admin() as admin:
        admin.post("/_sandbox/stats/reset").raise_for_status()
    result = measure(ref, **kwargs)
    result["variant"] = name
    result["customer"] = customer if name not in NO_WRITES else None
    result["connect_requests"] = connect.stats().get("requests", 0)
    if name not in NO_WRITES:
        result.update(nuntiq_suppliers(nuntiq, customer))
    return result


def run_benchmark(
    *,
    listings: int,
    vendors: int,
    latencies: Sequence[float] = LATENCIES,
    variants: Sequence[str] = tuple(VARIANTS),
    keep_suppliers: bool = False,
    repeats: int = 1,
) -> dict[str, Any]:
    """All variants at each latency; returns rows and ratios (JSON-serialisable).

    Without added latency the figures are short and noisy, so each variant is measured
    ``repeats`` times (rounds interleaved) and its median run is reported, with every
    run's seconds in ``seconds_runs`` and the highest peak RSS of all runs.

    ``keep_suppliers`` adds each writing variant's stored suppliers to its row (``stored``),
    so a test can check that every variant wrote the very same rows.
    """
    report: dict[str, Any] = {"listings": listings, "vendors": vendors, "runs": []}
    with connect_sandbox(listings, vendors) as connect, nuntiq_sandbox() as nuntiq:
        for latency in latencies:
            set_latency([connect, nuntiq], latency)
            rounds = repeats if not latency else 1
            runs = [[run_variant(v, connect=connect, nuntiq=nuntiq) for v in variants] for _ in range(rounds)]
            rows = [_median_row([r[i] for r in runs]) for i in range(len(variants))]
            if keep_suppliers:
                set_latency([nuntiq], 0)
                for row in rows:
                    if row["customer"]:
                        row["stored"] = supplier_rows(nuntiq, row["customer"])
            by = {r["variant"]: r for r in rows}
            ratios = _ratios(by)
            report["runs"].append({"latency_ms": latency, "rows": rows, "ratios": ratios})
        set_latency([connect, nuntiq], 0)
    return report


def _median_row(runs: list[dict[str, Any]]) -> dict[str, Any]:
    ordered = sorted(runs, key=lambda r: float(r["seconds"]))
    row = dict(ordered[len(ordered) // 2])
    row["seconds_runs"] = [round(float(r["seconds"]), 2) for r in runs]
    row["peak_rss_mb"] = max(float(r["peak_rss_mb"]) for r in runs)
    return row


def _seconds(by: dict[str, dict[str, Any]], name: str) -> float | None:
    row = by.get(name)
    return float(row["seconds"]) if row else None


def _ratios(by: dict[str, dict[str, Any]]) -> dict[str, Any]:
    speedup = ratio(_seconds(by, "baseline"), _seconds(by, "adapter"))
    vs_floor = ratio(_seconds(by, "adapter"), _seconds(by, "floor"))
    return {
        "speedup_vs_baseline": speedup,
        "speedup_p100_vs_baseline": ratio(_seconds(by, "baseline"), _seconds(by, "adapter_p100")),
        "adapter_over_floor": vs_floor,
        "source_over_floor": ratio(_seconds(by, "adapter_source"), _seconds(by, "floor")),
        "baseline_rss_over_adapter": ratio(
            by.get("baseline", {}).get("peak_rss_mb"), by.get("adapter", {}).get("peak_rss_mb")
        ),
        "target_speedup_3x": None if speedup is None else speedup >= 3,
        "target_floor_1_5x": None if vs_floor is None else vs_floor <= 1.5,
    }


COLUMNS = [
    ("variant", "variant"),
    ("seconds", "wall s"),
    ("seconds_runs", "runs s"),
    ("peak_rss_mb", "peak RSS MiB"),
    ("rss_before_mb", "RSS after imports MiB"),
    ("listings", "listings read"),
    ("connect_requests", "Connect requests"),
    ("suppliers", "Nuntiq suppliers"),
    ("suppliers_written", "supplier writes"),
]


def format_report(report: dict[str, Any]) -> str:
    out = [f"Connect -> suppliers: {report['listings']:,} listings, {report['vendors']} vendors"]
    for run in report["runs"]:
        r = run["ratios"]
        out.append(f"\nadded latency {run['latency_ms']:g} ms per response")
        out.append(table(run["rows"], COLUMNS))
        out.append(
            f"speedup adapter vs baseline: {r['speedup_vs_baseline']}x "
            f"(target >= 3x: {verdict(r['target_speedup_3x'])}); "
            f"adapter at page size 100 vs baseline: {r['speedup_p100_vs_baseline']}x; "
            f"adapter / floor: {r['adapter_over_floor']}x "
            f"(target <= 1.5x: {verdict(r['target_floor_1_5x'])}); "
            f"baseline peak RSS / adapter: {r['baseline_rss_over_adapter']}x; "
            f"adapter source alone / floor: {r['source_over_floor']}x"
        )
    return "\n".join(out)


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="5,000 listings instead of 100,000")
    parser.add_argument("--listings", type=int)
    parser.add_argument("--vendors", type=int)
    parser.add_argument("--latency", type=float, action="append", help="ms; repeatable (default 0 and 50)")
    parser.add_argument(
        "--repeats", type=int, default=3, help="runs per variant without latency (median reported)"
    )
    parser.add_argument("--json", help="also write the report to this file")
    args = parser.parse_args(argv)
    sizes = dict(QUICK if args.quick else FULL)
    if args.listings:
        sizes["listings"] = args.listings
    if args.vendors:
        sizes["vendors"] = args.vendors
    report = run_benchmark(**sizes, latencies=args.latency or LATENCIES, repeats=args.repeats)
    print(format_report(report), flush=True)
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(report, fh, indent=2)
    return report


if __name__ == "__main__":
    main()
