"""The suppliers connector over one huge tie group, shared by ``make test`` (3,000
records) and ``make ties-connect`` (50,000).

A bulk import stamps ``count`` listings with one ``created`` and ``updated`` value; pages
are capped below the asked size; ~10% of the listings get a new ``updated`` while the
group is being paged; the sandbox answers 414 to any request target over 4 KB. The run
must land every vendor; the next scheduled run (which re-reads the tie group, because
the stored cursor is a timestamp and the lookback reaches back to it) must succeed too.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import httpx

from connectors import connect_pull_suppliers
from lib.jobcontext import nuntiq_context
from sandbox.connect.app import DEFAULT_API_KEY
from sandbox.server import RunningServer
from tests.connect.conftest import reset_connect


@dataclass
class TieRun:
    first_seconds: float
    first_requests: int
    moved: int
    second_seconds: float
    second_requests: int
    second_items: int
    longest_target: int


def run_tie_group(connect: RunningServer, nuntiq: RunningServer, count: int, *, cap: int = 700) -> TieRun:
    reset_connect(connect, seed=9, counts={"listings": count + count // 10})
    with connect.admin() as admin:
        admin.put("/_sandbox/connect/variants", json={"max_target_bytes": 4096}).raise_for_status()
        admin.post("/_sandbox/connect/tie", json={"count": count}).raise_for_status()
    config: dict[str, Any] = {
        "customer_number": "40000001",
        "secrets": {"connect_api_key": DEFAULT_API_KEY},
        "config": {"connector_name": "tied_vendors", "connect_endpoint": connect.url},
    }
    # 10% of the tie group moves while it is paged: mutate_rate is per record served
    connect.set_faults(page_size_cap=cap, mutate_rate=0.1, seed=3, path_pattern="/listings")
    started = time.perf_counter()
    first_context = nuntiq_context(nuntiq, settings=config, params={"lookback_days": 3650})
    first = connect_pull_suppliers.run(first_context)
    first_seconds = time.perf_counter() - started
    stats = connect.stats()
    connect.set_faults(page_size_cap=cap)
    truth: dict[str, Any] = httpx.get(f"{connect.url}/_sandbox/connect/truth", timeout=120).json()
    context = nuntiq_context(nuntiq, settings=config)
    landed = set()
    page = 1
    while True:
        body = context.api.get("/v1/supplier", params={"page": page, "limit": 100})
        if not body["items"]:
            break
        landed |= {s["supplier_number"] for s in body["items"]}
        page += 1
    assert landed == set(truth["vendor_ids"]), "every vendor lands"
    assert first["items_read"] >= count
    with connect.admin() as admin:
        admin.post("/_sandbox/stats/reset").raise_for_status()
    started = time.perf_counter()
    second = connect_pull_suppliers.run(nuntiq_context(nuntiq, settings=config))
    second_seconds = time.perf_counter() - started
    second_stats = connect.stats()
    with connect.admin() as admin:
        longest = admin.get("/_sandbox/connect/variants").raise_for_status().json()["longest_target"]
    assert longest <= 4096
    return TieRun(
        first_seconds=first_seconds,
        first_requests=stats.get("connect_pages", 0),
        moved=stats.get("connect_mutated", 0),
        second_seconds=second_seconds,
        second_requests=second_stats.get("connect_pages", 0),
        second_items=int(second["items_read"]),
        longest_target=longest,
    )
