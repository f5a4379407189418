"""Batch a source's per-item lookups: enrich items a batch at a time, not one call each.

Many connectors enrich each record with a second resource (a listing's vendor, an
invoice's customer). Looking each one up as the mapper meets it costs one round trip per
new key, and with real-world latency those round trips, not the paging, set the run's
length. :class:`Prefetching` wraps any source: it reads up to ``batch_size`` items, hands
the whole batch to ``prefetch`` (which can resolve every key it needs in one call and
cache the answers), then yields the items unchanged and in order. The sync driver sees
the same items in the same order, so cursor ordering and the watermark are unaffected;
memory grows by one batch of items at most. A paged source's pages are gathered
into batches of at most ``batch_size`` items and passed on as the same pages (a larger
page in parts). Every member of the source protocols is forwarded by
:class:`~adapters.forwarding.ForwardingSource`; a wrapped source's ``refetch``
(quarantined items fetched again) is prefetched the same way, and refusals are passed
on without being prefetched.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from itertools import islice
from typing import Any

from adapters.forwarding import ForwardingSource, ItemT
from adapters.protocol import Source, close_fetch
from adapters.records import RefusedItem

__all__ = ["Prefetching"]


class Prefetching(ForwardingSource[ItemT]):
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
        super().__init__(source)
        self.prefetch: Callable[[Sequence[ItemT]], None] = prefetch
        self.batch_size = batch_size

    def wrap(self, items: Iterator[Any]) -> Iterator[Any]:
        """The items in batches, each prefetched (refusals left out of it) before it is yielded."""
        size = self.batch_size
        items = iter(items)  # islice over a list would start it again each time
        try:
            while batch := list(islice(items, size)):  # the batch is gathered in C, not item by item
                self.prefetch([i for i in batch if not isinstance(i, RefusedItem)])
                yield from batch
        finally:
            close_fetch(items)

    def wrap_pages(self, pages: Iterator[Sequence[Any]]) -> Iterator[Sequence[Any]]:
        """The pages, gathered into groups of at most ``batch_size`` items, each group prefetched first.

        A page larger than a batch is passed on in parts, so ``prefetch`` never gets more
        than ``batch_size`` items, as with :meth:`wrap`.
        """
        size = self.batch_size
        try:
            group: list[Sequence[Any]] = []
            held = 0
            for whole in pages:
                for start in range(0, len(whole), size):
                    page = whole[start : start + size] if len(whole) > size else whole
                    if held + len(page) > size:
                        yield from self._prefetched(group)
                        group, held = [], 0
                    group.append(page)
                    held += len(page)
                    if held == size:  # a full batch goes now, not when the next page arrives
                        yield from self._prefetched(group)
                        group, held = [], 0
            if group:
                yield from self._prefetched(group)
        finally:
            close_fetch(pages)

    def _prefetched(self, group: list[Sequence[Any]]) -> list[Sequence[Any]]:
        self.prefetch([i for page in group for i in page if not isinstance(i, RefusedItem)])
        return group
