"""The server-time probe in each variant: windows close at or before Connect's own time.

The host clock is set a day ahead of the sandbox's (the unsafe direction: a window
closing in the server's future lets records updated during the run slip behind the
cursor), a day behind, and a few minutes ahead. With a ``Date`` header the window
closes at the server's time; without one it closes just after the newest stamp Connect
holds, found by bisection, so neither direction of skew costs a record: records updated
while the run pages are read by the next run, from the watermark this one leaves.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from adapters.connect import SubscriptionAssetsSource
from adapters.connect import sources as connect_sources
from adapters.connect.newest import newest_stamp
from adapters.cursor import parse_timestamp
from sandbox.server import RunningServer
from tests.connect.conftest import make_client, reset_connect

SKEWS = {
    "a_day_ahead": timedelta(days=1),
    "a_day_behind": timedelta(days=-1),
    "4min_ahead": timedelta(minutes=4),
}


class Recorder:
    def __init__(self) -> None:
        self.warnings: list[str] = []

    def warn(self, message: str, **_: object) -> None:
        self.warnings.append(message)

    def info(self, message: str, **_: object) -> None:
        pass

    def error(self, message: str, **_: object) -> None:
        pass


def dump(server: RunningServer, collection: str) -> list[dict[str, Any]]:
    response = httpx.get(f"{server.url}/_sandbox/connect/dump/{collection}", timeout=60)
    response.raise_for_status()
    result: list[dict[str, Any]] = response.json()
    return result


def updated_at(record: dict[str, Any]) -> datetime:
    return parse_timestamp(record["events"]["updated"]["at"])


def skew_host(monkeypatch: pytest.MonkeyPatch, skew: timedelta) -> None:
    monkeypatch.setattr(connect_sources, "_utcnow", lambda: datetime.now(UTC) + skew)


@pytest.mark.parametrize("skew", SKEWS.values(), ids=SKEWS.keys())
@pytest.mark.parametrize("variant", ["date_header", "no_date_header", "limit_zero_refused"])
def test_window_closes_at_or_before_the_servers_time(
    connect: RunningServer, variant: str, skew: timedelta, monkeypatch: pytest.MonkeyPatch
) -> None:
    with connect.admin() as admin:
        admin.put("/_sandbox/connect/variants", json={"server_time": variant}).raise_for_status()
    skew_host(monkeypatch, skew)
    logger = Recorder()
    source = SubscriptionAssetsSource(make_client(connect.url), logger=logger)
    newest = max(updated_at(r) for r in dump(connect, "subscription_assets"))
    end = source.window_end()
    assert end <= datetime.now(UTC), "closed no later than the server's time"
    if variant == "date_header":
        assert abs((end - datetime.now(UTC)).total_seconds()) < 5, "the server's Date, not the host clock"
        assert logger.warnings == []
    else:
        assert newest < end <= newest + timedelta(seconds=1), "just after the newest stamp Connect holds"
        assert "no Date header" in logger.warnings[0]
    # every record updated before the probe is inside the window and is read
    records = list(source.fetch_since(None))
    assert len(records) == len(dump(connect, "subscription_assets"))
    assert all(r.cursor is not None and r.cursor < end for r in records)


@pytest.mark.parametrize("skew", SKEWS.values(), ids=SKEWS.keys())
def test_without_a_date_header_a_skewed_host_loses_no_update_made_while_paging(
    connect_server: RunningServer, skew: timedelta, monkeypatch: pytest.MonkeyPatch
) -> None:
    reset_connect(connect_server, seed=13, counts={"subscription_assets": 400})
    with connect_server.admin() as admin:
        admin.put("/_sandbox/connect/variants", json={"server_time": "no_date_header"}).raise_for_status()
    skew_host(monkeypatch, skew)
    client = make_client(connect_server.url, page_size=50)
    connect_server.set_faults(page_size_cap=30, mutate_rate=0.2, seed=17)
    first = list(SubscriptionAssetsSource(client).fetch_since(None))
    touched = connect_server.stats()["connect_mutated"]
    connect_server.set_faults()
    watermark = max(i.cursor for i in first if i.cursor is not None)
    second = list(SubscriptionAssetsSource(client).fetch_since(watermark))
    assert touched > 20, "assets were updated while the first run paged"
    delivered = {(i.key, i.cursor) for i in first + second}
    current = {(r["id"], updated_at(r)) for r in dump(connect_server, "subscription_assets")}
    lost = current - delivered
    assert not lost, f"{len(lost)} current versions never delivered, e.g. {sorted(lost)[:3]}"


def test_the_bisection_finds_the_newest_stamp_whatever_the_guess() -> None:
    stamps = [
        datetime(2026, 3, 1, 12, 0, tzinfo=UTC) + timedelta(seconds=s, microseconds=s * 7)
        for s in range(0, 5000, 37)
    ]
    asked: list[int] = []

    def probe(at: datetime, limit: int) -> list[dict[str, Any]]:
        asked.append(limit)
        hits = [t for t in stamps if t >= at][:limit]
        return [{"events": {"updated": {"at": t.isoformat()}}} for t in hits]

    newest = max(stamps)
    for guess in (
        newest + timedelta(days=1),
        newest - timedelta(days=1),
        newest,
        datetime(2000, 1, 1, tzinfo=UTC),
    ):
        asked.clear()
        found = newest_stamp(probe, "events.updated.at", since=stamps[3], guess=guess)
        assert found == newest, guess
        assert len(asked) <= 40
    assert newest_stamp(probe, "events.updated.at", since=newest + timedelta(seconds=1), guess=newest) is None
