"""sync() under overlap, late failure and skew: busy runs, owner-aware exactly-once, budgets, checkpoints.

All against the in-memory fakes; the server clock is FakeApi's and moves only when a row
is written or the test moves it, so every interleaving here is forced, not timed.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from core_fakes import (
    FakeApi,
    FakeApiError,
    FakeContext,
    FakeDelta,
    FakeRun,
    ListSink,
    ListSource,
    SourceBroke,
    at,
    document,
)

from adapters.backfill import backfill_scope
from adapters.budget import Budget
from adapters.cursor import format_cursor, parse_timestamp
from adapters.failures import Failure, FailureClass, RetriesExhausted
from adapters.lease import LeaseLost, RunLease
from adapters.ledger import Ledger
from adapters.nuntiq.classifier import classify_nuntiq_error
from adapters.protocol import Ordering
from adapters.records import RecordItem
from adapters.retry import Retrier, RetryPolicy
from adapters.runsettings import RunLimits
from adapters.sinks import DocumentSink
from adapters.sync import sync

TTL = timedelta(seconds=100)
SETTINGS = RunLimits(lease_ttl_seconds=100, upload_deadline_seconds=20, checkpoint_every_items=None)


class Monotonic:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def records(n: int) -> list[tuple[str, datetime | None]]:
    return [(f"r{i:03d}", at(i)) for i in range(n)]


def run(context: FakeContext, source: Any, sink: Any, delta: FakeDelta, **kw: Any) -> Any:
    kw.setdefault("run_settings", SETTINGS)
    return sync(context, source, sink, connector_name="acme", delta_run=delta, lookback_days=None, **kw)


def holder_lease(
    api: FakeApi, run_id: str, clock: Monotonic | None = None, scope: str = "scheduled"
) -> RunLease:
    return RunLease(
        api, connector_name="acme", stream="things", ttl=TTL, run_id=run_id, scope=scope,
        monotonic=clock or Monotonic(), retrier=Retrier.direct(),
    )  # fmt: skip


# -- overlap ---------------------------------------------------------------------------------


def test_second_run_finds_the_stream_busy_and_touches_nothing() -> None:
    api = FakeApi()
    holder_lease(api, "first").acquire()
    delta, sink = FakeDelta(format_cursor(at(3))), ListSink()
    summary = run(FakeContext(api=api), ListSource(records(5)), sink, delta)
    assert summary.outcome == "busy" and not summary.complete
    assert "another run of acme/things is in progress since" in summary.notes[0]
    assert sink.durable == [] and delta.calls == []  # no delta run started: the first is undisturbed
    assert delta.cursor == format_cursor(at(3))


def test_bounded_backfill_runs_beside_the_scheduled_job() -> None:
    api = FakeApi()
    holder_lease(api, "scheduled").acquire()
    delta, sink = FakeDelta(format_cursor(at(9))), ListSink()
    params = {"since_override": format_cursor(at(0)), "until_override": format_cursor(at(4))}
    summary = run(FakeContext(params, api=api), ListSource(records(10)), sink, delta)
    assert summary.outcome == "completed" and sink.durable == [f"r{i:03d}" for i in range(5)]
    # its own delta stream: no abandoning
    assert delta.calls == [("acme", f"things.{backfill_scope(at(0), at(4))}")]
    assert delta.cursor == format_cursor(at(9))


def test_backfill_windows_run_beside_each_other_but_one_window_only_once() -> None:
    api = FakeApi()
    holder_lease(api, "scheduled").acquire()
    holder_lease(api, "window-a", scope=backfill_scope(at(0), at(4))).acquire()
    delta = FakeDelta(format_cursor(at(9)))
    same = {"since_override": format_cursor(at(0)), "until_override": format_cursor(at(4))}
    other = {"since_override": format_cursor(at(4)), "until_override": format_cursor(at(9))}
    busy = run(FakeContext(same, api=api), ListSource(records(10)), ListSink(), delta)
    assert busy.outcome == "busy" and delta.calls == []
    sink = ListSink()
    beside = run(FakeContext(other, api=api), ListSource(records(10)), sink, delta)
    assert beside.outcome == "completed" and sink.durable == [f"r{i:03d}" for i in range(4, 10)]
    assert delta.calls == [("acme", f"things.{backfill_scope(at(4), at(9))}")]
    assert delta.cursor == format_cursor(at(9))


def test_holder_paused_mid_run_loses_the_lease_and_writes_nothing_more() -> None:
    api = FakeApi()
    clock = Monotonic()
    mine = holder_lease(api, "paused", clock)

    class PausingSource(ListSource):
        def fetch_since(self, cursor: datetime | None) -> Iterator[RecordItem]:
            for n, item in enumerate(super().fetch_since(cursor)):
                if n == 6:  # SIGSTOP for longer than the ttl; another run takes over meanwhile
                    api.clock += TTL + timedelta(seconds=1)
                    clock.now += TTL.total_seconds() + 1
                    holder_lease(api, "taker").acquire()
                yield item

    delta, sink = FakeDelta(), ListSink()
    with pytest.raises(LeaseLost):
        run(FakeContext(api=api), PausingSource(records(12)), sink, delta, lease=mine, flush_every=3)
    assert sink.durable == [f"r{i:03d}" for i in range(6)]  # the two batches flushed before the pause
    assert delta.cursor is None and delta.runs[-1][0] == "failed"


# -- owner-aware exactly-once and server time ---------------------------------------------------


def guarded_sink(
    api: FakeApi, lease: RunLease, *, host_offset: timedelta = timedelta(0), attempts: int = 6
) -> Any:
    sleeps: list[float] = []

    def sleep(seconds: float) -> None:  # waiting moves the server's clock (and the lease's)
        sleeps.append(seconds)
        api.clock += timedelta(seconds=seconds)

    ledger = Ledger(api, namespace="docs", now=lambda: datetime.now(UTC) + host_offset)
    policy = RetryPolicy(max_attempts=attempts)
    retrier = Retrier(classify_nuntiq_error, source="nuntiq", policy=policy, sleep=lambda s: None)
    sink = DocumentSink(api, ledger, retrier=retrier, sleep=sleep)
    sink.guard_with(lease, settle=SETTINGS.upload_deadline_seconds + lease.grace)
    return sink, sleeps


@pytest.mark.parametrize("host_offset", [timedelta(0), timedelta(days=1), timedelta(days=-1)])
def test_crashed_upload_is_reconciled_in_server_time_whatever_the_host_clock(host_offset: timedelta) -> None:
    api = FakeApi()
    item = document("d1", b"the bytes")
    dead = holder_lease(api, "dead")
    dead.acquire()
    crashed, _ = guarded_sink(api, dead, host_offset=host_offset, attempts=1)
    api.fail_upload_after_create = [0]  # the upload lands, its answer never does; then the run dies
    with pytest.raises(RetriesExhausted):
        crashed.add(item)
        crashed.flush()
    assert len(api.documents) == 1
    api.fail_upload_after_create = []
    api.clock += TTL + timedelta(seconds=1)  # the dead run's lease expires
    taker = holder_lease(api, "taker")
    taker.acquire()
    sink, _ = guarded_sink(api, taker, host_offset=-host_offset)
    sink.add(item)
    sink.flush()
    assert sink.reconciled == 1 and sink.uploaded == 0
    assert len(api.documents) == 1  # no duplicate, whichever way the host clocks are off


def test_pending_mark_of_a_live_run_is_left_to_it() -> None:
    api = FakeApi()
    item = document("d1", b"shared")
    scheduled = holder_lease(api, "scheduled")
    scheduled.acquire()
    owner_ledger = Ledger(api, namespace="docs")
    owner_ledger.guard_with(scheduled)
    entry = owner_ledger.mark_pending("d1", fingerprint=__import__("hashlib").sha256(b"shared").hexdigest())
    backfill = holder_lease(api, "backfill", scope="backfill")
    backfill.acquire()
    sink, sleeps = guarded_sink(api, backfill)

    def owner_finishes(seconds: float) -> None:  # while the backfill waits, the owner finishes
        api.clock += timedelta(seconds=seconds)
        if len(sleeps) == 2:
            owner_ledger.mark_done(entry, {"id": "doc-by-owner", "created_at": None})
            scheduled.release()
        sleeps.append(seconds)

    sink.once.sleep = owner_finishes
    sleeps.append(0.0)
    sink.add(item)
    sink.flush()
    assert sink.skipped == 1 and sink.uploaded == 0 and api.uploads == 0


def test_slow_upload_that_lands_after_the_timeout_is_not_sent_twice() -> None:
    """The client times out (status 0); the server stores the upload 15 s later (inside its deadline)."""

    class SlowApi(FakeApi):
        def __init__(self) -> None:
            super().__init__()
            self.deferred: list[tuple[datetime, list[Any], dict[str, Any]]] = []

        def upload_source_documents(self, files: list[Any], **kwargs: Any) -> Any:
            if not self.deferred and not self.documents:
                copies = [(n, c if isinstance(c, bytes) else c.read(), m) for n, c, m in files]
                self.deferred.append((self.clock + timedelta(seconds=15), copies, kwargs))
                raise FakeApiError(0, "")
            return super().upload_source_documents(files, **kwargs)

        def get(self, path: str, params: Any = None, extra_headers: Any = None) -> Any:
            for due, files, kwargs in list(self.deferred):
                if self.clock >= due:
                    self.deferred.clear()
                    super().upload_source_documents(files, **kwargs)
            return super().get(path, params)

    api = SlowApi()
    holder = holder_lease(api, "me")
    holder.acquire()
    sink, sleeps = guarded_sink(api, holder)
    sink.add(document("d1", b"slow bytes"))
    sink.flush()
    assert len(api.documents) == 1 and sink.reconciled == 1
    assert sum(sleeps) >= 15  # it waited out the request deadline (in server time) before asking


# -- budgets and checkpoints ------------------------------------------------------------------


class Ticking:
    """A fake monotonic clock that moves one second per item read."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class SlowSource(ListSource):
    def __init__(self, rows: list[tuple[str, datetime | None]], clock: Ticking) -> None:
        super().__init__(rows)
        self.clock = clock

    def fetch_since(self, cursor: datetime | None) -> Iterator[RecordItem]:
        for item in super().fetch_since(cursor):
            self.clock.now += 1
            yield item


def test_backlog_needing_three_budgets_drains_in_three_runs() -> None:
    delta, sink, rows = FakeDelta(), ListSink(), records(30)
    outcomes = []
    for _ in range(3):
        clock = Ticking()
        summary = run(
            FakeContext(), SlowSource(rows, clock), sink, delta, budget=Budget(12, clock=clock), flush_every=4
        )
        outcomes.append(summary.outcome)
    assert outcomes == ["partial", "partial", "completed"]
    assert set(sink.durable) == {key for key, _ in rows}
    assert delta.cursor == format_cursor(at(29))


def test_retry_wait_past_the_budget_gives_up_at_once() -> None:
    clock = Ticking()
    budget = Budget(60, clock=clock)
    clock.now = 50  # minute 12 of a 15-minute schedule, in small
    policy = RetryPolicy(max_wait=300, max_total=600).within(budget)
    waits: list[float] = []

    def limited(exc: BaseException) -> Failure:
        return Failure(FailureClass.RATE_LIMITED, "slow down", status=429, retry_after=30)

    retrier = Retrier(limited, source="acme", policy=policy, sleep=waits.append, clock=clock)

    def call() -> None:
        raise RuntimeError("429")

    with pytest.raises(RetriesExhausted, match="time budget"):
        retrier.call(call, step="fetch")
    assert waits == []


def test_failure_at_90_percent_keeps_progress_to_the_last_checkpoint() -> None:
    delta = FakeDelta()
    settings = SETTINGS.model_copy(update={"checkpoint_every_items": 10})
    with pytest.raises(SourceBroke):
        run(FakeContext(), ListSource(records(100), fail_after=90), ListSink(), delta,
            run_settings=settings, flush_every=5)  # fmt: skip
    died_at = at(89)
    stored = parse_timestamp(delta.cursor or "")
    assert died_at - stored <= timedelta(minutes=10)  # within one checkpoint interval (10 items)
    statuses = [status for status, _ in delta.runs]
    assert statuses.count("completed") == 9 and statuses[-1] == "failed"
    # the next run repeats at most one checkpoint interval
    source = ListSource(records(100))
    run(FakeContext(), source, ListSink(), delta, run_settings=settings)
    assert source.since_seen == [stored] and delta.cursor == format_cursor(at(99))


def test_checkpoint_whose_answer_was_lost_is_recognised() -> None:
    class LosingDelta(FakeDelta):
        lost = 0

        def __call__(self, context: Any, connector_name: str, stream: str, cursor_type: str = "") -> Any:
            inner = super().__call__(context, connector_name, stream, cursor_type)
            owner = self

            class Losing:
                def __enter__(self) -> FakeRun:
                    return inner.__enter__()

                def __exit__(self, *exc: Any) -> Any:
                    result = inner.__exit__(*exc)
                    if exc[0] is None and owner.lost == 0:
                        owner.lost += 1
                        raise FakeApiError(0, "")  # stored, but the answer was lost
                    return result

            return Losing()

    delta = LosingDelta()
    settings = SETTINGS.model_copy(update={"checkpoint_every_items": 10})
    summary = run(FakeContext(), ListSource(records(30)), ListSink(), delta, run_settings=settings)
    assert summary.outcome == "completed" and delta.lost == 1
    assert delta.cursor == format_cursor(at(29))


def test_checkpoint_refuses_to_go_on_when_someone_else_moved_the_cursor() -> None:
    class MovingDelta(FakeDelta):
        def __call__(self, context: Any, connector_name: str, stream: str, cursor_type: str = "") -> Any:
            if len(self.calls) == 1:
                self.cursor = format_cursor(at(500))  # another writer, between two checkpoints
            return super().__call__(context, connector_name, stream, cursor_type)

    delta = MovingDelta()
    settings = SETTINGS.model_copy(update={"checkpoint_every_items": 10})
    with pytest.raises(LeaseLost, match="another run wrote it"):
        run(FakeContext(), ListSource(records(30)), ListSink(), delta, run_settings=settings)


def test_unordered_settling_source_commits_its_settled_cursor_at_the_budget() -> None:
    class Partitioned(ListSource):
        def __init__(self, clock: Ticking) -> None:
            super().__init__(records(20), ordering=Ordering.UNORDERED)
            self.clock = clock
            self.settled: datetime | None = None

        def settled_cursor(self) -> datetime | None:
            return self.settled

        def fetch_since(self, cursor: datetime | None) -> Iterator[RecordItem]:
            for day in range(4):  # four partitions of five, newest first inside each
                for i in reversed(range(day * 5, day * 5 + 5)):
                    self.clock.now += 1
                    yield RecordItem(key=f"r{i:03d}", cursor=at(i), payload={}, stream="things")
                self.settled = at(day * 5 + 5)

    clock = Ticking()
    delta = FakeDelta()
    summary = run(FakeContext(), Partitioned(clock), ListSink(), delta, budget=Budget(13, clock=clock))
    assert summary.outcome == "partial"
    assert delta.cursor == format_cursor(at(10))  # two finished partitions, nothing of the third


@pytest.mark.parametrize("value", [float("inf"), float("nan"), "inf", 1e309])
def test_an_endless_or_undefined_time_budget_is_refused_by_name(value: Any) -> None:
    """An infinite budget would have read as "spent" at once (inf - elapsed <= inf / 10)."""
    with pytest.raises(ValueError, match="time_budget_seconds"):
        RunLimits.from_context(FakeContext(config={"run": {"time_budget_seconds": value}}))
    with pytest.raises(ValueError, match="finite"):
        Budget(float("inf"))


def test_the_budget_winds_down_at_the_same_instant_as_its_remaining_time_says() -> None:
    clock = Ticking()
    for seconds in (7, 10, 600, 0.3):
        budget = Budget(seconds, clock=clock)
        for step in range(0, 1001):
            clock.now = budget._started + seconds * step / 1000
            assert budget.winding_down == (budget.remaining() <= seconds * 0.1)
