"""Property: whatever mix of runs, failures, early stops and backfills happens, the stored
cursor never moves backwards and never skips a record the source held.

A simulated source gains records over time, some of them committed late (their cursor is
up to ``LOOKBACK`` behind the moment they become visible, which is what the per-stream
lookback exists for). The real ``sync()`` runs against it with fake delta state.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from core_fakes import FakeContext, FakeDelta, ListSink, ListSource, SourceBroke, at
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from adapters.cursor import format_cursor, parse_timestamp
from adapters.protocol import Ordering
from adapters.sync import sync

LOOKBACK = 3  # minutes

add_op = st.tuples(st.just("add"), st.integers(1, 4), st.integers(0, LOOKBACK))
run_op = st.tuples(
    st.just("run"),
    st.one_of(st.none(), st.integers(0, 6)),  # source fails after n items
    st.one_of(st.none(), st.integers(1, 3)),  # sink fails on flush n
    st.one_of(st.none(), st.integers(1, 8)),  # max_duration stop after n clock ticks
)
backfill_op = st.tuples(
    st.just("backfill"),
    st.integers(-5, 40),  # since_override, minutes
    st.one_of(st.none(), st.integers(0, 40)),  # until_override, minutes after since
    st.one_of(st.none(), st.integers(0, 6)),
)
ops = st.lists(st.one_of(add_op, run_op, backfill_op), max_size=25)


class Clock:
    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        self.t += 1.0
        return self.t


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ops=ops, ordering=st.sampled_from(list(Ordering)), flush_every=st.integers(1, 4))
def test_cursor_never_backwards_never_skips(
    ops: list[tuple[Any, ...]], ordering: Ordering, flush_every: int
) -> None:
    now = 10
    held: list[tuple[str, datetime | None]] = []
    delivered: set[str] = set()
    delta = FakeDelta()
    previous: datetime | None = None

    def attempt(
        params: dict[str, Any], fail_after: int | None, flush_fail: int | None, stop: int | None
    ) -> Any:
        source = ListSource(
            list(held), ordering=ordering, fail_after=fail_after, lookback=timedelta(minutes=LOOKBACK)
        )
        sink = ListSink(fail_on_flush=flush_fail)
        try:
            return sync(
                FakeContext(params),
                source,
                sink,
                connector_name="sim",
                lookback_days=None,
                flush_every=flush_every,
                delta_run=delta,
                max_duration=timedelta(seconds=stop) if stop is not None else None,
                clock=Clock(),
                now=lambda: at(now),
            )
        except SourceBroke:
            return None
        finally:
            delivered.update(sink.durable)

    for op in ops:
        if op[0] == "add":
            _, count, late = op
            for _ in range(count):
                held.append((f"k{len(held)}", at(now - late)))
            now += 1
            continue
        if op[0] == "run":
            _, fail_after, flush_fail, stop = op
            visible = {key for key, _ in held}
            summary = attempt({}, fail_after, flush_fail, stop)
            if summary is not None and summary.complete:
                missing = visible - delivered
                assert not missing, f"complete run left records undelivered: {sorted(missing)}"
        else:
            _, since, until, fail_after = op
            params = {"since_override": format_cursor(at(since))}
            if until is not None:
                params["until_override"] = format_cursor(at(since + until))
            attempt(params, fail_after, None, None)
        current = parse_timestamp(delta.cursor) if delta.cursor else None
        if previous is not None:
            assert current is not None and current >= previous, "cursor moved backwards"
        previous = current
        now += 1

    # one clean scheduled run later, everything the source holds has been delivered
    final = attempt({}, None, None, None)
    assert final is not None and final.complete
    assert {key for key, _ in held} <= delivered
