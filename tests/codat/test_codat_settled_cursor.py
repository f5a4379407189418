"""CodatFilesSource settles per finished day: what the sync driver may commit mid-run."""

from __future__ import annotations

from datetime import datetime

from adapters.codat.client import CodatFilesClient
from adapters.codat.source import CodatFilesSource, _day_boundaries
from adapters.records import DocumentItem
from lib.jobcontext import FakeClock
from sandbox.server import RunningServer
from tests.codat.test_codat_source_sandbox import make_source

D = datetime.fromisoformat


def test_settles_only_as_each_day_ends_and_never_past_a_file_still_to_come(
    client: CodatFilesClient, fake_clock: FakeClock, codat: RunningServer
) -> None:
    with make_source(client, fake_clock) as source:
        assert source.settled_cursor() is None
        seen: list[tuple[DocumentItem, datetime | None]] = []
        for item in source.fetch_since(None):
            assert isinstance(item, DocumentItem)
            seen.append((item, source.settled_cursor()))
    days = [item.metadata["archive_date"] for item, _ in seen]
    assert len(set(days)) > 5  # the seed spreads the company's files over many days
    for i, (_item, settled) in enumerate(seen):
        last_of_day = i + 1 == len(seen) or days[i + 1] != days[i]
        before = seen[i - 1][1] if i else None
        if not last_of_day:
            assert settled == before, f"settled moved inside day {days[i]}"
            continue
        assert settled is not None and (before is None or settled > before)
        later = [other.cursor for other, _ in seen[i + 1 :] if other.cursor is not None]
        assert all(settled <= c for c in later), "settled past a file still to be yielded"
    assert seen[-1][1] == max(item.cursor for item, _ in seen if item.cursor is not None)


def test_day_boundaries_for_late_files_and_days_out_of_upload_order() -> None:
    # day b holds a file uploaded before day a's last one (a zone-less time near midnight)
    days = ["a", "a", "b", "b", "c"]
    cursors = [D("2024-01-01T10:00:00+00:00"), D("2024-01-01T23:59:00+00:00"),
               D("2024-01-01T23:30:00+00:00"), None, D("2024-01-03T08:00:00+00:00")]  # fmt: skip
    assert _day_boundaries(days, cursors) == [
        None,
        D("2024-01-01T23:30:00+00:00"),  # the earliest file still to come, not day a's latest
        None,
        D("2024-01-03T08:00:00+00:00"),
        D("2024-01-03T08:00:00+00:00"),  # after the last day: the greatest cursor of all
    ]
    # only late files (no cursor) left after day a: nothing to come can lower it
    assert _day_boundaries(["a", "b"], [D("2024-01-01T10:00:00+00:00"), None]) == [
        D("2024-01-01T10:00:00+00:00"),
        D("2024-01-01T10:00:00+00:00"),
    ]
    assert _day_boundaries([], []) == []


def test_a_new_fetch_starts_unsettled(client: CodatFilesClient, fake_clock: FakeClock) -> None:
    source: CodatFilesSource
    with make_source(client, fake_clock) as source:
        list(source.fetch_since(None))
        assert source.settled_cursor() is not None
        items = source.fetch_since(None)
        next(items)
        assert source.settled_cursor() is None
        items.close()
