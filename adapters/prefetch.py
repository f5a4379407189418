"""Batch a source's per-item lookups: enrich items a batch at a time, not one call each.

Many connectors enrich each record with a second resource (a listing's vendor, an
invoice's customer). Looking each one up as the mapper meets it costs one round trip per
new key, and with real-world latency those round trips, not the paging, set the run's
length. :class:`Prefetching` wraps any source: it reads up to ``batch_size`` items, hands
the whole batch to ``prefetch`` (which can resolve every key it needs in one call and
cache the answers), then yields the items unchanged and in order. The sync driver sees
the same items in the same order, so cursor ordering and the watermark are unaffected;
memory grows by one batch of items at most. A wrapped source's ``refetch`` (quarantined
items fetched again) is forwarded and prefetched the same way; refusals are passed on
without being prefetched.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from datetime import datetime, timedelta
from typing import Any, Generic, TypeVar

from adapters.failures import Classifier
from adapters.protocol import Ordering, Refetchable, Source
from adapters.records import DocumentItem, RecordItem, Refetch, RefusedItem, SourceItem

__all__ = ["Prefetching"]

ItemT = TypeVar("ItemT", RecordItem, DocumentItem, RecordItem | DocumentItem)


class Prefetching(Generic[ItemT]):
    """A :class:`~adapters.protocol.Source` that calls ``prefetch(batch)`` before yielding each batch."""

    def __init__(
        self,
        source: Source[ItemT],
        prefetch: Callable[[Sequence[ItemT]], None],
        *,
        batch_size: int = 500,
    ) -> None:
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {batch_size}")
        self.source: Source[ItemT] = source
        self.prefetch: Callable[[Sequence[ItemT]], None] = prefetch
        self.batch_size = batch_size

    @property
    def name(self) -> str:
        return self.source.name

    @property
    def ordering(self) -> Ordering:
        return self.source.ordering

    @property
    def classifier(self) -> Classifier:
        return self.source.classifier

    @property
    def lookback(self) -> timedelta | None:
        """The wrapped source's lookback, which the sync driver subtracts from the cursor."""
        value = getattr(self.source, "lookback", None)
        return value if isinstance(value, timedelta) else None

    def fetch_since(self, cursor: datetime | None) -> Iterator[ItemT]:
        return self._batched(self.source.fetch_since(cursor))

    def refetch(self, wanted: Sequence[Refetch]) -> Iterator[SourceItem]:
        """The wrapped source's ``refetch``, prefetched; nothing when it has none."""
        if not isinstance(self.source, Refetchable):
            return iter(())
        return self._batched(self.source.refetch(wanted))

    def _batched(self, items: Iterator[Any]) -> Iterator[Any]:
        batch: list[Any] = []
        try:
            for item in items:
                batch.append(item)
                if len(batch) >= self.batch_size:
                    self.prefetch([i for i in batch if not isinstance(i, RefusedItem)])
                    yield from batch
                    batch = []
            if batch:
                self.prefetch([i for i in batch if not isinstance(i, RefusedItem)])
                yield from batch
        finally:
            close = getattr(items, "close", None)
            if callable(close):
                close()
