"""Connect keyset and offset paging against a sandbox that lies in each way.

The lies: a ``Content-Range`` total smaller than the truth, pages capped below the
asked size, and an empty page in the middle of a list (every third answer with items
is sent empty). Keyset paging (listings) and offset paging (a billing batch's file
list) must read every record all the same.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from adapters.connect import BillingBatchFilesSource, ListingsSource
from sandbox.server import RunningServer
from tests.connect.conftest import make_client, reset_connect

LIES: dict[str, dict[str, Any]] = {
    "total_too_small": {"total_factor": 0.3},
    "capped_pages": {"page_cap": 37},
    "empty_middle_pages": {"empty_page_every": 3},
    "all_at_once": {"total_factor": 0.3, "page_cap": 37, "empty_page_every": 3},
}


def lie(connect: RunningServer, variants: dict[str, Any]) -> None:
    with connect.admin() as admin:
        admin.put("/_sandbox/connect/variants", json=variants).raise_for_status()


@pytest.mark.parametrize("name", sorted(LIES))
def test_keyset_paging_reads_every_listing(connect_server: RunningServer, name: str) -> None:
    reset_connect(connect_server, seed=4, counts={"listings": 800})
    expected = {r["id"] for r in httpx.get(f"{connect_server.url}/_sandbox/connect/dump/listings").json()}
    lie(connect_server, LIES[name])
    source = ListingsSource(make_client(connect_server.url, page_size=100))
    assert {item.key for item in source.fetch_since(None)} == expected


@pytest.mark.parametrize("name", sorted(LIES))
def test_offset_paging_reads_every_batch_file(connect_server: RunningServer, name: str) -> None:
    reset_connect(connect_server, seed=4, counts={"billing_batches": 8})
    truth = httpx.get(f"{connect_server.url}/_sandbox/connect/truth").json()["billing_files"]
    lie(connect_server, LIES[name])
    # one file per page, so every batch's file list spans pages and meets each lie
    source = BillingBatchFilesSource(make_client(connect_server.url, page_size=1))
    assert sorted(d.key for d in source.fetch_since(None)) == sorted(f["key"] for f in truth)


def test_the_lies_are_really_told(connect_server: RunningServer) -> None:
    reset_connect(connect_server, seed=4, counts={"listings": 300})
    lie(connect_server, LIES["all_at_once"])
    list(ListingsSource(make_client(connect_server.url, page_size=100)).fetch_since(None))
    assert connect_server.stats()["connect_blank_pages"] >= 2
