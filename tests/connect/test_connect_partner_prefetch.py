"""Partner lookups in batches: one in(id,...) list call, with per-id fallback so nothing is lost."""

from __future__ import annotations

import httpx

from adapters.connect import PartnerDirectory
from lib.jobcontext import FakeClock
from sandbox.server import RunningServer
from tests.connect.conftest import make_client, reset_connect


def vendor_ids(server: RunningServer) -> list[str]:
    ids: list[str] = httpx.get(f"{server.url}/_sandbox/connect/truth", timeout=30).json()["vendor_ids"]
    return ids


def test_prefetch_loads_all_vendors_in_one_list_call(connect_server: RunningServer) -> None:
    reset_connect(connect_server)
    ids = vendor_ids(connect_server)
    directory = PartnerDirectory(make_client(connect_server.url))
    directory.prefetch([*ids, "VA-000-000"])  # one unknown id: looked up alone, found missing
    assert directory.requests_made == 3, "one list call, one that finds nothing new, one lookup"
    for vid in ids:
        partner = directory.get(vid)
        assert partner is not None and partner["id"] == vid
    assert directory.get("VA-000-000") is None
    assert directory.requests_made == 3, "everything was cached by the prefetch"


def test_a_capped_list_page_costs_requests_not_vendors(connect_server: RunningServer) -> None:
    reset_connect(connect_server)
    ids = vendor_ids(connect_server)
    connect_server.set_faults(page_size_cap=3)
    try:
        directory = PartnerDirectory(make_client(connect_server.url))
        directory.prefetch(ids)
    finally:
        connect_server.set_faults()
    assert len(ids) > 3
    # each list call is filled to the cap with ids still missing: no per-id lookups
    assert directory.requests_made == -(-len(ids) // 3)
    assert all((directory.get(vid) or {}).get("id") == vid for vid in ids)


def test_prefetch_is_retried_under_the_shared_policy(connect_server: RunningServer) -> None:
    from adapters.connect import classify_connect_error
    from adapters.retry import Retrier

    reset_connect(connect_server)
    ids = vendor_ids(connect_server)
    clock = FakeClock()
    retrier = Retrier(classify_connect_error, source="connect", sleep=clock.sleep, clock=clock.clock)
    connect_server.set_faults(script=[503], retry_after=1)
    try:
        directory = PartnerDirectory(make_client(connect_server.url), retrier=retrier)
        directory.prefetch(ids)
    finally:
        connect_server.set_faults()
    assert clock.sleeps and clock.sleeps[0] >= 1
    assert all(directory.get(vid) is not None for vid in ids)
