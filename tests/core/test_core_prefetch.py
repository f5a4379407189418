"""Prefetching: batches reach the hook before their items are yielded, order and protocol unchanged."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta

from adapters.prefetch import Prefetching
from adapters.protocol import Ordering, Source
from adapters.records import RecordItem

T0 = datetime(2026, 1, 1, tzinfo=UTC)


class Numbers(Source[RecordItem]):
    name = "numbers"
    ordering = Ordering.CURSOR_ORDERED
    lookback = timedelta(seconds=30)

    def __init__(self, count: int) -> None:
        self.count = count
        self.closed = False


    def fetch_since(self, cursor: datetime | None) -> Iterator[RecordItem]:
        try:
            for n in range(self.count):
                yield RecordItem(key=str(n), cursor=T0 + timedelta(seconds=n), payload={"n": n})
        finally:
            self.closed = True


def test_each_batch_is_prefetched_before_its_items_are_yielded() -> None:
    events: list[str] = []

    def prefetch(batch: Sequence[RecordItem]) -> None:
        events.append("prefetch " + ",".join(i.key for i in batch))

    source = Prefetching(Numbers(7), prefetch, batch_size=3)
    for item in source.fetch_since(None):
        events.append(item.key)
    assert events == [
        "prefetch 0,1,2", "0", "1", "2",
        "prefetch 3,4,5", "3", "4", "5",
        "prefetch 6", "6",
    ]  # fmt: skip


def test_wrapper_keeps_the_source_protocol() -> None:
    inner = Numbers(1)
    source = Prefetching(inner, lambda batch: None)
    assert isinstance(source, Source)
    assert (source.name, source.ordering, source.lookback) == (
        "numbers",
        Ordering.CURSOR_ORDERED,
        inner.lookback,
    )


def test_stopping_early_closes_the_wrapped_source() -> None:
    inner = Numbers(10)
    items = Prefetching(inner, lambda batch: None, batch_size=4).fetch_since(None)
    assert next(items).key == "0"
    items.close()
    assert inner.closed


class ListSource(Numbers):
    """A source whose fetch returns a list, not a generator."""

    def fetch_since(self, cursor: datetime | None) -> Iterator[RecordItem]:
        return list(super().fetch_since(cursor))  # type: ignore[return-value]  # a list, on purpose


def test_a_source_that_returns_a_list_is_batched_once_through() -> None:
    batches: list[int] = []
    wrapped = Prefetching(ListSource(5), lambda batch: batches.append(len(batch)), batch_size=2)
    assert [item.key for item in wrapped.fetch_since(None)] == ["0", "1", "2", "3", "4"]
    assert batches == [2, 2, 1]
