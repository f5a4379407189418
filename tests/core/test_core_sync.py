"""The sync driver against in-memory fakes: since resolution, flushing, watermark, commit rule."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from core_fakes import T0, FakeContext, FakeDelta, ListSink, ListSource, SourceBroke, at

from adapters.cursor import CursorError, format_cursor, parse_timestamp
from adapters.protocol import Ordering
from adapters.sync import sync


def run_sync(
    source: ListSource,
    sinks: Any,
    delta: FakeDelta,
    params: dict[str, Any] | None = None,
    **kw: Any,
) -> Any:
    ctx = FakeContext(params)
    kw.setdefault("lookback_days", None)
    kw.setdefault("now", lambda: at(10_000))
    return sync(ctx, source, sinks, connector_name="acme", delta_run=delta, **kw), ctx


def records(n: int, start: float = 0) -> list[tuple[str, datetime | None]]:
    return [(f"r{i:03d}", at(start + i)) for i in range(n)]


def test_first_run_reads_everything_and_commits_max() -> None:
    delta, sink = FakeDelta(), ListSink()
    summary, _ = run_sync(ListSource(records(7)), sink, delta, flush_every=3)
    assert sink.durable == [f"r{i:03d}" for i in range(7)]
    assert sink.flushes == 3  # 3 + 3 + final 1
    assert delta.cursor == format_cursor(at(6))
    assert summary.items_read == 7 and summary.written == {"list": 7}
    assert summary.cursor_before is None and summary.cursor_after == format_cursor(at(6))
    status, run = delta.runs[-1]
    assert status == "completed" and run.records_processed == 7
    assert run.metadata["watermark"] == format_cursor(at(6))
    assert delta.calls == [("acme", "things")]
    assert sink.closed


def test_next_run_starts_at_stored_cursor_minus_lookback() -> None:
    delta = FakeDelta(format_cursor(at(5)))
    source = ListSource(records(10), lookback=timedelta(minutes=2))
    summary, _ = run_sync(source, ListSink(), delta)
    assert source.since_seen == [at(3)]
    assert summary.since_origin == "delta_cursor"
    assert summary.items_read == 7 and delta.cursor == format_cursor(at(9))


def test_bootstrap_window_from_job_param() -> None:
    delta = FakeDelta()
    source = ListSource(records(3))
    summary, _ = run_sync(source, ListSink(), delta, params={"lookback_days": "2"}, now=lambda: at(3 * 1440))
    assert source.since_seen == [at(1440)]
    assert summary.since_origin == "lookback_days"
    assert summary.items_read == 0 and delta.cursor is None  # nothing durable: unchanged


def test_bad_params_fail_before_any_call() -> None:
    for params, match in [
        ({"since_override": "soon"}, r"since_override.*'soon'"),
        ({"until_override": "later"}, r"until_override.*'later'"),
        ({"lookback_days": "a week"}, r"lookback_days.*'a week'"),
        ({"since_override": "2026-02-01", "until_override": "2026-01-01"}, "before since_override"),
    ]:
        delta, source = FakeDelta(), ListSource(records(3))
        with pytest.raises((CursorError, ValueError), match=match):
            run_sync(source, ListSink(), delta, params=params)
        assert delta.calls == [] and source.since_seen == []


def test_watermark_only_from_flushed_items_and_failure_keeps_cursor() -> None:
    delta = FakeDelta(format_cursor(at(0)))
    sink = ListSink(fail_on_flush=2)
    with pytest.raises(SourceBroke):
        run_sync(ListSource(records(10)), sink, delta, flush_every=4)
    assert sink.durable == ["r000", "r001", "r002", "r003"]  # first flush only
    assert delta.cursor == format_cursor(at(0)) and delta.runs[-1][0] == "failed"


def test_source_failure_mid_stream_fails_run() -> None:
    delta = FakeDelta(format_cursor(at(0)))
    source = ListSource(records(10), fail_after=6)
    with pytest.raises(SourceBroke):
        run_sync(source, ListSink(), delta, flush_every=2)
    assert delta.cursor == format_cursor(at(0))
    assert source.closed


def test_watermark_needs_every_sink_flushed() -> None:
    delta = FakeDelta()
    ok, bad = ListSink("ok"), ListSink("bad", fail_on_flush=1)
    with pytest.raises(SourceBroke):
        run_sync(ListSource(records(5)), [ok, bad], delta, flush_every=2)
    assert delta.cursor is None


def test_items_below_since_and_above_until_are_dropped() -> None:
    delta = FakeDelta()
    source = ListSource(records(10), ordering=Ordering.FULL_SCAN)
    sink = ListSink()
    summary, _ = run_sync(
        source,
        sink,
        delta,
        params={"since_override": format_cursor(at(3)), "until_override": format_cursor(at(6))},
    )
    assert sorted(sink.durable) == ["r003", "r004", "r005", "r006"]
    assert summary.items_read == 10 and summary.items_dropped == 6
    assert delta.cursor is None  # bounded backfill never touches the cursor


def test_ordered_source_stops_at_until_unordered_reads_on() -> None:
    params = {"since_override": format_cursor(at(0)), "until_override": format_cursor(at(4))}
    ordered, _ = run_sync(ListSource(records(10)), ListSink(), FakeDelta(), params=params)
    unordered, _ = run_sync(
        ListSource(records(10), ordering=Ordering.UNORDERED), ListSink(), FakeDelta(), params=params
    )
    assert ordered.items_read == 6 and ordered.items_dropped == 1
    assert unordered.items_read == 10 and unordered.items_dropped == 5
    assert ordered.written == unordered.written == {"list": 5}


def test_backfill_after_stored_cursor_leaves_it_before_advances() -> None:
    delta = FakeDelta(format_cursor(at(2)))
    summary, _ = run_sync(
        ListSource(records(10)), ListSink(), delta, params={"since_override": format_cursor(at(5))}
    )
    assert delta.cursor == format_cursor(at(2)) and summary.written == {"list": 5}
    summary, _ = run_sync(
        ListSource(records(10)), ListSink(), delta, params={"since_override": format_cursor(at(1))}
    )
    assert delta.cursor == format_cursor(at(9))


def test_items_without_cursor_are_written_but_do_not_move_watermark() -> None:
    delta = FakeDelta()
    source = ListSource([("a", None), ("b", at(1)), ("c", None)], ordering=Ordering.UNORDERED)
    sink = ListSink()
    run_sync(source, sink, delta)
    assert sorted(sink.durable) == ["a", "b", "c"] and delta.cursor == format_cursor(at(1))


def test_max_duration_commits_prefix_only_for_ordered_sources() -> None:
    ticks = iter(range(1000))

    def clock() -> float:
        return float(next(ticks))

    delta = FakeDelta()
    summary, _ = run_sync(
        ListSource(records(10)),
        ListSink(),
        delta,
        max_duration=timedelta(seconds=4),
        clock=clock,
        flush_every=2,
    )
    assert not summary.complete and 0 < summary.items_read < 10
    assert delta.cursor == format_cursor(at(summary.items_read - 1))

    ticks = iter(range(1000))
    delta = FakeDelta()
    summary, _ = run_sync(
        ListSource(records(10), ordering=Ordering.UNORDERED),
        ListSink(),
        delta,
        max_duration=timedelta(seconds=4),
        clock=clock,
    )
    assert not summary.complete and delta.cursor is None


def test_out_of_order_source_is_flagged() -> None:
    class Shuffled(ListSource):
        def selected(self, cursor: datetime | None) -> list[tuple[str, datetime | None]]:
            return [("b", at(2)), ("a", at(1)), ("c", at(3))]

    delta = FakeDelta()
    summary, ctx = run_sync(Shuffled([]), ListSink(), delta)
    assert delta.cursor == format_cursor(at(3))
    assert any("not in cursor order" in n for n in summary.notes)
    assert any(r[2] == "sync_order" for r in ctx.logger.of("warn"))


def test_metadata_has_no_settings_and_merges_extra() -> None:
    delta = FakeDelta()
    run_sync(ListSource(records(2)), ListSink(), delta, metadata={"schema_version": 3})
    metadata = delta.runs[-1][1].metadata
    assert metadata["schema_version"] == 3
    assert metadata["items_read"] == 2 and metadata["lower_bound_used"] is None
    assert set(metadata) <= {
        "schema_version", "stream", "ordering", "lower_bound_used", "since_origin", "until",
        "items_read", "items_dropped", "written", "sinks", "watermark", "complete", "outcome",
        "checkpoints",
    }  # fmt: skip


def test_progress_is_logged() -> None:
    _, ctx = run_sync(ListSource(records(5)), ListSink(), FakeDelta(), flush_every=2)
    steps = [r[2] for r in ctx.logger.records]
    assert steps[0] == "sync_start" and steps[-1] == "sync_done"
    assert steps.count("sync_flush") == 3


def test_sink_names_must_be_unique_and_flush_every_positive() -> None:
    with pytest.raises(ValueError, match="unique"):
        run_sync(ListSource([]), [ListSink(), ListSink()], FakeDelta())
    with pytest.raises(ValueError, match="flush_every"):
        run_sync(ListSource([]), ListSink(), FakeDelta(), flush_every=0)


def test_default_delta_run_comes_from_lib(monkeypatch: pytest.MonkeyPatch) -> None:
    import lib.delta

    delta = FakeDelta()
    monkeypatch.setattr(lib.delta, "delta_run", delta)
    ctx = FakeContext()
    sync(ctx, ListSource(records(1)), ListSink(), connector_name="acme", lookback_days=None)
    assert delta.cursor == format_cursor(T0)
    assert parse_timestamp(delta.cursor) == T0
