"""The units the sync driver is composed of: the run window, the watermark, the summary, sink counts."""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime, timedelta

import pytest
from core_fakes import FakeContext, FakeDelta, ListSource

from adapters.cursor import CursorError, SinceOrigin, format_cursor
from adapters.params import JobParams
from adapters.records import RecordItem
from adapters.retry import Retrier
from adapters.sinks import LoadSink, MappingError, RowSink, SinkCounts, SinkError
from adapters.summary import SyncSummary
from adapters.sync import sync
from adapters.testing import ListSink as KitListSink
from adapters.watermark import Watermark
from adapters.window import Placement, WindowRequest

T0 = datetime(2026, 3, 1, tzinfo=UTC)
NOW = T0 + timedelta(days=30)


def at(minutes: int) -> datetime:
    return T0 + timedelta(minutes=minutes)


def records(n: int) -> list[tuple[str, datetime | None]]:
    return [(f"r{i}", at(i)) for i in range(n)]


# -- window ------------------------------------------------------------------------------------


def test_window_precedence_override_then_stored_minus_lookback_then_bootstrap() -> None:
    plain = WindowRequest.from_params(JobParams(), lookback=timedelta(minutes=5), default_lookback_days=7)
    first = plain.resolve(None, now=NOW)
    assert (first.since, first.resolved.origin) == (NOW - timedelta(days=7), SinceOrigin.BOOTSTRAP)
    later = plain.resolve(format_cursor(at(60)), now=NOW)
    assert (later.since, later.resolved.origin) == (at(55), SinceOrigin.CURSOR)
    override = WindowRequest.from_params(
        JobParams(since_override=at(10)), lookback=timedelta(minutes=5), default_lookback_days=7
    ).resolve(format_cursor(at(60)), now=NOW)
    assert (override.since, override.is_override) == (at(10), True)
    days = WindowRequest.from_params(
        JobParams(lookback_days=2), lookback=timedelta(0), default_lookback_days=7
    )
    assert days.resolve(None, now=NOW).since == NOW - timedelta(days=2)  # the job param wins


def test_window_places_cursors_inclusively_at_both_ends() -> None:
    request = WindowRequest.from_params(
        JobParams(since_override=at(10), until_override=at(20)),
        lookback=timedelta(0),
        default_lookback_days=None,
    )
    assert request.bounded_backfill
    window = request.resolve(None, now=NOW)
    assert [window.place(at(m)) for m in (9, 10, 20, 21)] == [
        Placement.BELOW, Placement.INSIDE, Placement.INSIDE, Placement.ABOVE,
    ]  # fmt: skip


def test_an_upper_bound_below_the_lower_is_refused_naming_both() -> None:
    request = WindowRequest.from_params(
        JobParams(until_override=at(5)), lookback=timedelta(0), default_lookback_days=None
    )
    assert not request.bounded_backfill
    expected = r"until_override \S+T00:05:\S+ is before the run's lower bound \S+T00:10:"
    with pytest.raises(CursorError, match=expected):
        request.resolve(format_cursor(at(10)), now=NOW)


# -- watermark ---------------------------------------------------------------------------------


def test_watermark_counts_only_flushed_items() -> None:
    mark = Watermark(ordered=True)
    for minute in (1, 2, 3):
        assert mark.observe(f"k{minute}", at(minute)) is None
        mark.handed_to_sinks(at(minute))
    assert mark.committable() is None  # read and handed over, but nothing flushed yet
    mark.flushed()
    assert mark.committable() == at(3)
    mark.handed_to_sinks(at(9))
    assert mark.committable() == at(3)  # the new batch is not durable until its flush
    mark.handed_to_sinks(None)  # an item without a cursor never moves it
    mark.flushed()
    assert mark.durable == at(9)


def test_a_broken_order_promise_is_said_once_and_holds_the_watermark_to_the_end() -> None:
    mark = Watermark(ordered=True)
    mark.observe("a", at(5))
    note = mark.observe("b", at(3))
    assert note is not None and "'b'" in note and "not in cursor order" in note
    assert mark.observe("c", at(1)) is None  # said once
    mark.handed_to_sinks(at(5))
    mark.flushed()
    assert mark.committable() is None and not mark.ordered
    assert mark.final(complete=False) is None
    assert mark.final(complete=True) == at(5)


def test_an_unordered_source_commits_its_settled_cursor_until_complete() -> None:
    settled: list[datetime | None] = [None]
    mark = Watermark(ordered=False, settled=lambda: settled[0])
    mark.handed_to_sinks(at(50))
    mark.flushed()
    assert mark.committable() is None
    settled[0] = at(20)
    assert mark.committable() == at(20) and mark.final(complete=False) == at(20)
    assert mark.final(complete=True) == at(50)


# -- counts and the summary --------------------------------------------------------------------


def test_every_sink_accounts_for_each_item_in_exactly_one_counter() -> None:
    def mapper(item: object, load: object) -> object:
        key = item.key
        if key == "skip":
            return None
        if key == "bad":
            raise KeyError("name")
        return {"key": key}

    class Load:
        def save_all(self) -> None:
            pass

    load_sink = LoadSink(Load(), mapper, name="load", retrier=Retrier.direct())  # type: ignore[arg-type]

    for key in ("a", "skip", "bad", "b"):
        with contextlib.suppress(MappingError):
            load_sink.add(RecordItem(key, at(1), {}))
    load_sink.flush()
    assert load_sink.counts == SinkCounts(written=2, filtered=1, rejected=1)
    assert load_sink.counts.handled == 4

    kit = KitListSink()
    for key in ("a", "b", "a"):
        kit.add(RecordItem(key, at(1), {}))
    kit.flush()
    assert kit.counts == SinkCounts(written=2, already_present=1)

    class Api:
        def put(self, path: str, data: object) -> object:
            return {}

    def row_key(item: RecordItem) -> str:
        return "" if item.key == "nokey" else item.key

    rows = RowSink(Api(), "t", key=row_key, retrier=Retrier.direct())  # type: ignore[arg-type]
    for key in ("x", "nokey"):
        with contextlib.suppress(SinkError):
            rows.add(RecordItem(key, at(1), {}))
    rows.flush()
    assert rows.counts == SinkCounts(written=1, rejected=1)


def test_metadata_and_the_final_log_line_come_from_the_summary() -> None:
    context, delta = FakeContext(), FakeDelta()
    summary = sync(
        context, ListSource(records(4)), KitListSink("kit"), connector_name="acme",
        delta_run=delta, lookback_days=None, metadata={"schema_version": 2},
    )  # fmt: skip
    stored = delta.runs[-1][1].metadata
    assert stored == {"schema_version": 2, **summary.metadata()}
    assert stored["sinks"] == {"kit": {"written": 4, "already_present": 0, "filtered": 0, "rejected": 0}}
    done = [r for r in context.logger.records if r[2] == "sync_done"]
    assert len(done) == 1
    assert done[0][1] == summary.log_message()
    assert done[0][3] == summary.log_detail()
    assert summary.log_detail()["cursor_after"] == summary.cursor_after == delta.cursor
    as_dict = summary.as_dict()
    assert as_dict["written"] == {"kit": 4} and as_dict["sinks"]["kit"]["written"] == 4
    rebuilt = {k: v for k, v in as_dict.items() if k != "written"} | {"sinks": summary.sinks}
    assert SyncSummary(**rebuilt) == summary


# -- flushing by rows ---------------------------------------------------------------------------


def test_a_load_is_written_when_a_full_write_of_rows_waits_not_only_every_flush_every_items() -> None:
    """Items that make no row do not hurry a flush; rows do, at the Load's batch size."""
    saves: list[int] = []

    class Load:
        batch_size = 3

        def __init__(self) -> None:
            self.rows = 0

        def save_all(self) -> None:
            saves.append(self.rows)
            self.rows = 0

    load = Load()

    def mapper(item: RecordItem, load: Load) -> object | None:
        if item.key.endswith("-"):
            return None  # an item that makes no row
        load.rows += 1
        return {"key": item.key}

    keys = [f"r{i}" if i % 2 else f"r{i}-" for i in range(16)]  # 8 rows among 16 items
    sink = LoadSink(load, mapper, name="load", retrier=Retrier.direct())  # type: ignore[arg-type]
    assert sink.rows_per_write == 3
    source = ListSource([(key, at(i)) for i, key in enumerate(keys)])
    delta = FakeDelta()
    summary = sync(FakeContext(), source, sink, connector_name="acme", delta_run=delta,
                   lookback_days=None, flush_every=1000)  # fmt: skip
    assert saves == [3, 3, 2]  # two full writes as the rows arrived, the rest at the end
    assert summary.sinks["load"].written == 8 and summary.cursor_after == format_cursor(at(15))


def test_a_sink_without_a_write_size_is_flushed_by_items_only() -> None:
    sink = KitListSink("kit")
    summary = sync(FakeContext(), ListSource(records(7)), sink, connector_name="acme",
                   delta_run=FakeDelta(), lookback_days=None, flush_every=3)  # fmt: skip
    assert sink.flushes == 3 and summary.items_read == 7  # after 3 and 6 items, and at the end
