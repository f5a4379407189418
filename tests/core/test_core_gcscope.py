"""The run freezes the process's long-lived objects for its length, and only for it."""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from datetime import datetime

import pytest
from core_fakes import FakeContext, FakeDelta, ListSource, SourceBroke, at

from adapters.gcscope import long_lived_objects_frozen
from adapters.records import RecordItem
from adapters.sync import sync
from adapters.testing import ListSink


class _Watching(ListSource):
    """Notes how many objects the collector skips while the run reads."""

    def __init__(self, records: list[tuple[str, datetime | None]], **kwargs: object) -> None:
        super().__init__(records, **kwargs)  # type: ignore[arg-type]
        self.frozen_while_reading: list[int] = []

    def fetch_since(self, cursor: datetime | None) -> Iterator[RecordItem]:
        for item in super().fetch_since(cursor):
            self.frozen_while_reading.append(gc.get_freeze_count())
            yield item


def test_objects_are_frozen_while_the_run_reads_and_released_after_it() -> None:
    assert gc.get_freeze_count() == 0
    source = _Watching([(f"k{i}", at(i)) for i in range(3)])
    summary = sync(FakeContext(), source, ListSink(), connector_name="acme", delta_run=FakeDelta(),
                   lookback_days=None)  # fmt: skip
    assert summary.items_read == 3
    assert min(source.frozen_while_reading) > 0
    assert gc.get_freeze_count() == 0


def test_a_failing_run_releases_them_too() -> None:
    source = _Watching([(f"k{i}", at(i)) for i in range(3)], fail_after=1)
    with pytest.raises(SourceBroke):
        sync(FakeContext(), source, ListSink(), connector_name="acme", delta_run=FakeDelta(),
             lookback_days=None)  # fmt: skip
    assert source.frozen_while_reading and source.frozen_while_reading[0] > 0
    assert gc.get_freeze_count() == 0


def test_a_cycle_made_during_the_run_is_collected_after_it() -> None:
    class Node:
        other: object = None

    with long_lived_objects_frozen():
        a, b = Node(), Node()
        a.other, b.other = b, a
        alive = gc.get_freeze_count()
    del a, b
    assert alive > 0 and gc.get_freeze_count() == 0
    gc.collect()
    assert not [o for o in gc.get_objects() if type(o) is Node]


def test_overlapping_runs_share_one_freeze_until_the_last_ends() -> None:
    inside, leave = threading.Event(), threading.Event()

    def other() -> None:
        with long_lived_objects_frozen():
            inside.set()
            leave.wait(5)

    thread = threading.Thread(target=other)
    thread.start()
    assert inside.wait(5)
    with long_lived_objects_frozen():
        pass
    assert gc.get_freeze_count() > 0  # the other run is still going
    leave.set()
    thread.join(5)
    assert gc.get_freeze_count() == 0


def test_a_freeze_the_process_made_itself_is_left_alone() -> None:
    gc.freeze()
    try:
        fresh = [[] for _ in range(1000)]  # tracked objects a second freeze would add
        before = gc.get_freeze_count()  # frozen objects freed meanwhile leave it, so allow some
        with long_lived_objects_frozen():
            during = gc.get_freeze_count()
        after = gc.get_freeze_count()
        assert during < before + len(fresh)  # the run froze nothing of its own
        assert after > before - len(fresh) > 0  # and did not unfreeze the process's freeze
    finally:
        gc.unfreeze()
