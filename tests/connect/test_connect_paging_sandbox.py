"""Keyset paging against the sandbox: capped pages and records moving under the sync.

The server returns fewer items than asked (``page_size_cap``) and, after every page,
bumps ``updated`` on records (``mutate_rate``): offset paging would skip records in
both cases. The keyset pager must deliver every listing, never the same version twice,
in cursor order, and the next incremental run must pick up what moved.
"""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from adapters.connect import ListingsSource, SubscriptionAssetsSource, TierAccountsSource, payload_hash
from adapters.cursor import parse_timestamp
from sandbox.server import RunningServer
from tests.connect.conftest import make_client, reset_connect

LISTINGS = 5000


def dump(server: RunningServer, collection: str) -> list[dict[str, Any]]:
    response = httpx.get(f"{server.url}/_sandbox/connect/dump/{collection}", timeout=60)
    response.raise_for_status()
    result: list[dict[str, Any]] = response.json()
    return result


def test_capped_pages_and_mid_sync_updates_neither_skip_nor_duplicate(connect_server: RunningServer) -> None:
    reset_connect(connect_server, seed=7, counts={"listings": LISTINGS})
    before = {r["id"]: r for r in dump(connect_server, "listings")}
    assert len(before) == LISTINGS
    connect_server.set_faults(page_size_cap=70, mutate_rate=0.1, seed=11)
    client = make_client(connect_server.url, page_size=100)

    items = list(ListingsSource(client).fetch_since(None))
    stats = connect_server.stats()
    connect_server.set_faults()
    after = {r["id"]: r for r in dump(connect_server, "listings")}

    # ~10% of the collection changed while we paged; pages were capped below the limit
    assert stats["connect_mutated"] >= LISTINGS * 0.08
    assert stats["connect_pages"] >= LISTINGS // 70
    keys = [i.key for i in items]
    assert set(keys) == set(before), "every listing is delivered"
    versions = [(i.key, i.cursor) for i in items]
    assert len(versions) == len(set(versions)), "no version of a listing is delivered twice"
    cursors = [i.cursor for i in items]
    assert all(a is not None and b is not None and a <= b for a, b in itertools.pairwise(cursors))
    assert len(items) > LISTINGS, "records updated after being read were read again"

    # every listing's last delivered version is its current one, except those that were
    # touched while the very last page was served: the next run picks those up
    last: dict[str, datetime] = {}
    for item in items:
        assert item.cursor is not None
        last[item.key] = item.cursor
    watermark = max(last.values())
    stale = {k for k, r in after.items() if parse_timestamp(r["updated"]) != last[k]}
    assert all(parse_timestamp(after[k]["updated"]) > watermark for k in stale)
    rerun = list(ListingsSource(client).fetch_since(watermark))
    assert stale <= {i.key for i in rerun}
    assert {(i.key, i.cursor) for i in rerun} >= {(k, parse_timestamp(after[k]["updated"])) for k in stale}


def test_window_stream_survives_capped_pages_and_updates(connect_server: RunningServer) -> None:
    reset_connect(connect_server, seed=3, counts={"subscription_assets": 400})
    connect_server.set_faults(page_size_cap=30, mutate_rate=0.2, seed=5)
    client = make_client(connect_server.url, page_size=50)
    items = list(SubscriptionAssetsSource(client).fetch_since(None))
    connect_server.set_faults()
    keys = [i.key for i in items]
    assert len(keys) == len(set(keys)), "keyset on creation time: no asset twice in a run"
    after = {r["id"]: r for r in dump(connect_server, "subscription_assets")}
    watermark = max(i.cursor for i in items if i.cursor is not None)
    missing = set(after) - set(keys)
    # only assets updated after the run's window closed are left out, and the next run gets them
    assert missing, "the sandbox touched assets during the run"
    assert all(parse_timestamp(after[k]["events"]["updated"]["at"]) > watermark for k in missing)
    # the next run (normally 15 minutes later) closes its window after those updates
    later = datetime.now(UTC) + timedelta(minutes=15)
    rerun = {i.key for i in SubscriptionAssetsSource(client, now=lambda: later).fetch_since(watermark)}
    assert missing <= rerun


def test_incremental_run_returns_only_changes_and_boundary(connect_server: RunningServer) -> None:
    reset_connect(connect_server, seed=2, counts={"listings": 300})
    client = make_client(connect_server.url, page_size=40)
    first = list(ListingsSource(client).fetch_since(None))
    watermark = max(i.cursor for i in first if i.cursor is not None)
    with connect_server.admin() as admin:
        changed = admin.post(
            "/_sandbox/connect/mutate", json={"collection": "listings", "fraction": 0.05, "add": 4}
        ).json()
    second = list(ListingsSource(client).fetch_since(watermark))
    expected = set(changed["updated"]) | set(changed["added"])
    boundary = {i.key for i in first if i.cursor == watermark}
    assert {i.key for i in second} == expected | boundary


def test_tier_accounts_full_scan_skips_unchanged(connect_server: RunningServer) -> None:
    reset_connect(connect_server, seed=4, counts={"tier_accounts": 120})
    client = make_client(connect_server.url, page_size=25)
    first_source = TierAccountsSource(client)
    first = list(first_source.fetch_since(None))
    assert len(first) == 120
    known = dict(first_source.seen_hashes)
    assert known == {i.key: payload_hash(dict(i.as_mapping())) for i in first}
    with connect_server.admin() as admin:
        changed = admin.post(
            "/_sandbox/connect/mutate", json={"collection": "tier_accounts", "fraction": 0.1}
        ).json()["updated"]
    second = list(TierAccountsSource(client, known_hashes=known).fetch_since(None))
    assert {i.key for i in second} == set(changed)


@pytest.mark.parametrize("cap", [1, 7])
def test_listing_pages_smaller_than_one_tie_group_still_progress(
    connect_server: RunningServer, cap: int
) -> None:
    reset_connect(connect_server, seed=9, counts={"listings": 120})
    connect_server.set_faults(page_size_cap=cap)
    client = make_client(connect_server.url, page_size=20)
    items = list(ListingsSource(client).fetch_since(None))
    connect_server.set_faults()
    assert sorted(i.key for i in items) == sorted(r["id"] for r in dump(connect_server, "listings"))
