"""Connect supplier connector and quarantine: a bad listing behind the cursor lands only by refetch."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from connect.client import ConnectClient

from adapters.connect import ListingsSource, MediaFolderFilesSource
from adapters.quarantine import QuarantineStore
from adapters.records import DocumentItem, RecordItem, Refetch
from connectors import connect_pull_suppliers
from lib.jobcontext import nuntiq_context
from sandbox.connect.app import DEFAULT_API_KEY
from sandbox.connect.seed import MEDIA_FOLDER
from sandbox.server import RunningServer, serve_in_thread

OLD = "2020-03-04T05:06:07.000000+00:00"  # far behind the cursor the first run commits


@pytest.fixture
def servers() -> Iterator[tuple[RunningServer, RunningServer]]:
    connect, nuntiq = serve_in_thread("connect"), serve_in_thread("nuntiq")
    try:
        with connect.admin() as admin:
            admin.post(
                "/_sandbox/connect/generate", json={"seed": 3, "counts": {"listings": 40}}
            ).raise_for_status()
        yield connect, nuntiq
    finally:
        connect.stop()
        nuntiq.stop()


def put_listing(connect: RunningServer, listing_id: str, vendor: Any) -> None:
    listings = httpx.get(f"{connect.url}/_sandbox/connect/dump/listings", timeout=30).json()
    record = copy.deepcopy(listings[0])
    record.update({"id": listing_id, "updated": OLD})
    if vendor is None:
        record.pop("vendor", None)
    else:
        record["vendor"] = vendor
    httpx.put(f"{connect.url}/_sandbox/connect/raw/listings", json=record, timeout=30).raise_for_status()


def run(connect: RunningServer, nuntiq: RunningServer) -> tuple[dict[str, Any], Any]:
    settings = {
        "customer_number": "10000001",
        "secrets": {"connect_api_key": DEFAULT_API_KEY},
        "config": {"connector_name": "connect_q", "connect_endpoint": connect.url},
    }
    context = nuntiq_context(nuntiq, settings=settings, params={"lookback_days": 36500})
    return connect_pull_suppliers.run(context), context


def test_bad_listing_is_quarantined_and_lands_by_refetch_once_fixed(
    servers: tuple[RunningServer, RunningServer],
) -> None:
    connect, nuntiq = servers
    put_listing(connect, "LST-999-123-456", None)
    result, context = run(connect, nuntiq)
    store = QuarantineStore(context.api, namespace="connect_q")
    entries = {e.key: e for e in store.entries()}
    assert list(entries) == ["LST-999-123-456"] and "vendor" in entries["LST-999-123-456"].reason
    assert result["quarantine"]["refused"] == 1 and result["cursor_after"] > OLD[:4]
    # fixed in place: same `updated`, far behind the cursor, so only the refetch by id can see it
    put_listing(connect, "LST-999-123-456", {"id": "VA-777-777-777", "name": "Refetched Vendor"})
    result, context = run(connect, nuntiq)
    assert result["quarantine"]["retried"] == 1 and result["quarantine"]["released_keys"] == [
        "LST-999-123-456"
    ]
    assert list(store.entries()) == []
    body = context.api.get("/v1/supplier", params={"page": 1, "limit": 1000})
    names = {s["supplier_number"]: s["supplier_name"] for s in body["items"]}
    assert names.get("VA-777-777-777") == "Refetched Vendor"


def test_every_connect_source_refetches_what_it_yields(servers: tuple[RunningServer, RunningServer]) -> None:
    """Refetch by id returns the same kind of item as the source's own reading, for records and files."""
    connect, _ = servers
    client = ConnectClient(
        DEFAULT_API_KEY, endpoint=f"{connect.url}/public/v1", use_specs=False, max_retries=0
    )
    media = MediaFolderFilesSource(client, folder_type=MEDIA_FOLDER[0], folder_name=MEDIA_FOLDER[1])
    listings = ListingsSource(client)
    for source, kind in ((media, DocumentItem), (listings, RecordItem)):
        items = list(source.fetch_since(None))
        wanted = [Refetch(i.key, i.cursor) for i in items[:3]] + [Refetch("XX-000-000-000", None)]
        again = list(source.refetch(wanted))
        assert [i.key for i in again] == [i.key for i in items[:3]] and all(
            isinstance(i, kind) for i in again
        )
