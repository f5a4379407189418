"""Paged sources (adapters.protocol.Paged): the driver lands the same items, commits the same cursors.

A paged source hands its items over a page at a time, and the driver runs its per-page
checks (fence, budget, elapsed time, time-based checkpoints, progress) once per page. What
lands and what is committed must not depend on how the items were grouped: each test
runs the same records through the per-item path and through pages of every layout and
compares everything the run left behind.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from core_fakes import FakeContext, FakeDelta, ListSink, ListSource
from hypothesis import given, settings
from hypothesis import strategies as st

from adapters.forwarding import ForwardingSource
from adapters.prefetch import Prefetching
from adapters.protocol import Ordering, Paged
from adapters.records import RecordItem
from adapters.runsettings import RunLimits
from adapters.sync import sync

T0 = datetime(2026, 3, 1, tzinfo=UTC)


def at(minutes: int) -> datetime:
    return T0 + timedelta(minutes=minutes)


class PagedListSource(ListSource):
    """:class:`ListSource` that also hands its items over in pages of ``sizes`` (cycled)."""

    def __init__(self, records: list[tuple[str, datetime | None]], sizes: Sequence[int], **kw: Any) -> None:

        super().__init__(records, **kw)
        self.sizes = list(sizes)
        self.pages_closed = False

    def fetch_pages_since(self, cursor: datetime | None) -> Iterator[Sequence[RecordItem]]:
        items = self.fetch_since(cursor)
        try:
            n = 0
            while True:
                page = [item for _, item in zip(range(self.sizes[n % len(self.sizes)]), items, strict=False)]
                if not page:
                    return
                yield page
                n += 1
        finally:
            self.pages_closed = True
            items.close()


def outcome(source: ListSource, *, flush_every: int, every_items: int | None, params: dict[str, str]) -> Any:
    sink = ListSink()
    delta = FakeDelta()
    summary = sync(
        FakeContext(params=params),
        source,
        sink,
        connector_name="acme",
        delta_run=delta,
        lookback_days=None,
        flush_every=flush_every,
        run_settings=RunLimits(checkpoint_every_items=every_items, checkpoint_every_seconds=None),
    )
    commits = [(status, run.new_cursor) for status, run in delta.runs]
    fields = (summary.items_read, summary.items_dropped, summary.watermark, summary.cursor_after,
              summary.complete, summary.checkpoints, summary.notes)  # fmt: skip
    return fields, sink.durable, sink.flushes, commits


@settings(max_examples=300, deadline=None)
@given(
    minutes=st.lists(st.one_of(st.none(), st.integers(0, 40)), min_size=5, max_size=40),
    sizes=st.lists(st.integers(1, 9), min_size=1, max_size=4),
    flush_every=st.integers(1, 12),
    every_items=st.one_of(st.none(), st.integers(1, 15)),
    since=st.one_of(st.none(), st.integers(0, 20)),
    until=st.one_of(st.none(), st.integers(10, 45)),
    ordering=st.sampled_from([Ordering.CURSOR_ORDERED, Ordering.UNORDERED]),
)
def test_pages_of_any_layout_land_and_commit_what_single_items_do(
    minutes: list[int | None],
    sizes: list[int],
    flush_every: int,
    every_items: int | None,
    since: int | None,
    until: int | None,
    ordering: Ordering,
) -> None:
    records = [(f"r{i}", None if m is None else at(m)) for i, m in enumerate(minutes)]
    params: dict[str, str] = {}
    if since is not None:
        params["since_override"] = at(since).isoformat()
        if until is not None and until >= since:
            params["until_override"] = at(until).isoformat()
    plain = ListSource(records, ordering=ordering)
    paged = PagedListSource(records, sizes, ordering=ordering)
    assert isinstance(paged, Paged) and not isinstance(plain, Paged)
    expected = outcome(plain, flush_every=flush_every, every_items=every_items, params=params)
    assert outcome(paged, flush_every=flush_every, every_items=every_items, params=params) == expected
    assert paged.pages_closed and paged.closed


def test_a_time_limit_is_noticed_at_the_end_of_the_page_that_crosses_it() -> None:
    """max_duration: the page being delivered lands whole, the next is never asked for."""
    now = [0.0]

    class Slow(PagedListSource):
        def fetch_pages_since(self, cursor: datetime | None) -> Iterator[Sequence[RecordItem]]:
            for number, page in enumerate(super().fetch_pages_since(cursor)):
                if number == 1:
                    now[0] += 60  # the second page took a minute to arrive
                yield page

    source = Slow([(f"r{i}", at(i)) for i in range(12)], [4])
    sink = ListSink()
    summary = sync(FakeContext(), source, sink, connector_name="acme", delta_run=FakeDelta(),
                   lookback_days=None, max_duration=timedelta(seconds=30), clock=lambda: now[0])  # fmt: skip
    assert (summary.items_read, summary.complete) == (8, False)
    assert sink.durable == [f"r{i}" for i in range(8)]
    assert summary.cursor_after is not None and summary.cursor_after.startswith("2026-03-01T00:07:00")
    assert source.pages_closed


class Renaming(ForwardingSource[RecordItem]):
    """Changes items in ``wrap`` only: must be read item by item, its change never skipped."""

    def wrap(self, items: Iterator[Any]) -> Iterator[Any]:
        for item in items:
            yield RecordItem(item.key.upper(), item.cursor, item.payload, item.stream)


class Passing(ForwardingSource[RecordItem]):
    """Changes nothing: forwards pages as they are."""


def test_pages_are_forwarded_only_by_wrappers_that_cannot_skip_a_change() -> None:
    records = [(f"r{i}", at(i)) for i in range(5)]
    assert isinstance(Passing(PagedListSource(records, [2])), Paged)
    assert not isinstance(Passing(ListSource(records)), Paged)
    renaming = Renaming(PagedListSource(records, [2]))
    assert not isinstance(renaming, Paged)
    sink = ListSink()
    sync(FakeContext(), renaming, sink, connector_name="acme", delta_run=FakeDelta(), lookback_days=None)
    assert sink.durable == [f"R{i}" for i in range(5)]
    assert isinstance(Prefetching(PagedListSource(records, [2]), lambda batch: None), Paged)


def test_prefetching_gathers_pages_into_batches_of_at_most_its_size() -> None:
    events: list[str] = []
    source = Prefetching(
        PagedListSource([(f"r{i}", at(i)) for i in range(15)], [3, 2, 7]),
        lambda batch: events.append("prefetch " + ",".join(i.key for i in batch)),
        batch_size=5,
    )
    for page in source.fetch_pages_since(None):
        events.append("page " + ",".join(i.key for i in page))
    assert events == [
        "prefetch r0,r1,r2,r3,r4", "page r0,r1,r2", "page r3,r4",  # full: sent at once
        "prefetch r5,r6,r7,r8,r9", "page r5,r6,r7,r8,r9",  # a page of 7 is passed on in parts
        "prefetch r10,r11,r12,r13,r14", "page r10,r11", "page r12,r13,r14",
    ]  # fmt: skip


class Dropping(Prefetching[RecordItem]):
    """A Prefetching subclass that changes items in ``wrap`` alone: read item by item."""

    def wrap(self, items: Iterator[Any]) -> Iterator[Any]:
        return (item for item in super().wrap(items) if item.key != "r1")


class Filtering(ForwardingSource[RecordItem]):
    """Changes items in ``fetch_since``, not ``wrap``: read item by item too."""

    def fetch_since(self, since: datetime | None, /) -> Iterator[RecordItem]:
        return (item for item in super().fetch_since(since) if item.key != "r1")


def test_a_subclass_that_changes_items_below_the_page_hook_is_read_item_by_item() -> None:
    records = [(f"r{i}", at(i)) for i in range(5)]
    dropping = Dropping(PagedListSource(records, [2]), lambda batch: None)
    for wrapper in (dropping, Filtering(PagedListSource(records, [2]))):
        assert not isinstance(wrapper, Paged), type(wrapper)
        sink = ListSink()
        sync(FakeContext(), wrapper, sink, connector_name="acme", delta_run=FakeDelta(), lookback_days=None)
        assert sink.durable == ["r0", "r2", "r3", "r4"]


def test_item_sources_keep_their_checks_at_the_items_they_always_ran_at() -> None:
    """Dropped items run no time check; an item checkpoint at a budget stop is not taken."""
    now = [0.0]

    class Ticking(ListSource):
        def fetch_since(self, cursor: datetime | None) -> Iterator[RecordItem]:
            for item in super().fetch_since(cursor):
                now[0] += 20
                yield item

    # a full scan below the window: c and d are dropped after the time limit is crossed
    scan = Ticking([("a", at(20)), ("b", at(21)), ("c", at(1)), ("d", at(2))], ordering=Ordering.FULL_SCAN)
    summary = sync(FakeContext(params={"since_override": at(10).isoformat()}), scan, ListSink(),
                   connector_name="acme", delta_run=FakeDelta(), lookback_days=None,
                   max_duration=timedelta(seconds=50), clock=lambda: now[0])  # fmt: skip
    assert summary.complete and summary.items_dropped == 2
    now[0] = 0.0
    ordered = Ticking([(f"r{i}", at(i)) for i in range(6)])
    delta = FakeDelta()
    limits = RunLimits(checkpoint_every_items=2, checkpoint_every_seconds=None)
    summary = sync(FakeContext(), ordered, ListSink(), connector_name="acme", delta_run=delta,
                   lookback_days=None, max_duration=timedelta(seconds=40), clock=lambda: now[0],
                   run_settings=limits)  # fmt: skip
    assert (summary.items_read, summary.checkpoints, summary.complete) == (2, 0, False)
    assert len(delta.runs) == 1


def test_stopping_inside_a_page_closes_the_paged_source_before_the_run_ends() -> None:
    source = PagedListSource([(f"r{i}", at(i)) for i in range(30)], [10])
    sink = ListSink()
    params = {"since_override": at(0).isoformat(), "until_override": at(4).isoformat()}
    summary = sync(FakeContext(params=params), source, sink, connector_name="acme", delta_run=FakeDelta(),
                   lookback_days=None)  # fmt: skip
    assert sink.durable == [f"r{i}" for i in range(5)]
    assert summary.items_read == 6 and summary.items_dropped == 1  # r5 is above the bound and ends the read
    assert source.pages_closed and source.closed


def test_record_items_stay_frozen_dataclasses_with_their_hand_written_init() -> None:
    """RecordItem's __init__ is written out for speed; it must behave as the generated one did."""
    item = RecordItem("k", at(1), {"a": 1})
    assert (item.key, item.cursor, item.payload, item.stream) == ("k", at(1), {"a": 1}, "")
    assert item == RecordItem(key="k", cursor=at(1), payload={"a": 1}, stream="")
    assert dataclasses.replace(item, stream="s") == RecordItem("k", at(1), {"a": 1}, "s")
    assert [f.name for f in dataclasses.fields(RecordItem)] == ["key", "cursor", "payload", "stream"]
    with pytest.raises(dataclasses.FrozenInstanceError):
        item.key = "other"  # type: ignore[misc]
    with pytest.raises((AttributeError, TypeError)):  # slots and frozen: CPython raises TypeError here
        item.extra = 1  # type: ignore[attr-defined]
    with pytest.raises(ValueError, match=r"'k'.*no time zone"):
        RecordItem("k", datetime(2026, 3, 1), {})
    offset = datetime(2026, 3, 1, 2, tzinfo=timezone(timedelta(hours=2)))
    assert RecordItem("k", offset, {}).cursor == offset and RecordItem("k", None, {}).cursor is None
