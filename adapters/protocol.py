"""The one protocol every source implements.

A source knows how to list what changed since a cursor value; it does not know
where the items go, when they are durable, or what the next cursor is. Keeping
those out of the adapter is what lets the sync driver compute the watermark from
durably written items only.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, Protocol, TypeVar, runtime_checkable

from adapters.records import DocumentItem, RecordItem, Refetch, SourceItem

ItemT_co = TypeVar("ItemT_co", RecordItem, DocumentItem, RecordItem | DocumentItem, covariant=True)


class Ordering(StrEnum):
    """What a source promises about the order it yields items in."""

    #: yields in ascending cursor order (keyset paged), so any prefix is complete
    CURSOR_ORDERED = "cursor_ordered"
    #: filters by the cursor but cannot order by it: only a finished run is complete
    UNORDERED = "unordered"
    #: cannot even filter by the cursor: every run is a full scan
    FULL_SCAN = "full_scan"


@runtime_checkable
class Source(Protocol[ItemT_co]):
    """A source of items, read lazily page by page.

    These are the members the sync driver reads, and nothing else: a wrapper that
    forwards them (:class:`adapters.forwarding.ForwardingSource`) is a complete source.
    How a source classifies its failures is its retrier's business, not the driver's,
    so no classifier is part of the contract.

    ``fetch_since(since)`` yields what changed at or after ``since``, the lower bound the
    driver resolved for this run (``None`` means "everything the source holds"). The bound
    is inclusive: an item whose cursor equals it is yielded again, which every sink
    tolerates because sinks are idempotent. A source reads from the bound it is given and
    keeps no bound of its own; the driver alone decides it (stored cursor, overrides,
    lookback). The parameter is positional, so implementations may name it as they like.

    ``close()`` releases what the source holds (an HTTP client, downloaded archives). The
    code that built the source calls it, typically through a ``with`` block, once it has
    run every sync it wants from it; the driver never does, so one source can serve
    several syncs. A source that holds nothing implements it as a no-op; classes that
    derive from ``Source`` explicitly inherit that no-op.
    """

    @property
    def name(self) -> str:
        """Stream name used in delta state, logs and metadata."""
        ...

    @property
    def ordering(self) -> Ordering:
        """What the driver may assume about the order of items (see :class:`Ordering`)."""
        ...

    @property
    def lookback(self) -> timedelta:
        """How far before the stored cursor the next run starts, to catch late-committed items.

        Zero when the source's cursor values never arrive late. A ``lookback`` argument
        to :func:`adapters.sync.sync` wins over it.
        """
        ...

    def fetch_since(self, since: datetime | None, /) -> Iterator[ItemT_co]: ...

    def close(self) -> None:
        """Release what the source holds; the default holds nothing."""
        return None


@runtime_checkable
class Refetchable(Protocol):
    """A source that can fetch quarantined items again (optional, next to ``Source``).

    The sync driver calls ``refetch`` at the start of a run with the quarantined items
    of the stream, before ``fetch_since``. The source yields what it finds for them now:
    the item itself (it lands and its quarantine entry is released), a ``RefusedItem``
    (still bad: the entry stays), or nothing (gone: the entry stays until an operator
    discards it). It may yield more than was asked, e.g. every file of a re-read day;
    sinks are idempotent. Each ``Refetch`` carries the ``refetch`` hint the source put on
    its ``RefusedItem``, so a source that cannot fetch by key can re-read the partition.
    Without this method a quarantined item is retried only when the source yields it
    again by itself (a fixed record usually gets a newer cursor value).
    """

    def refetch(self, wanted: Sequence[Refetch]) -> Iterator[SourceItem]: ...


@runtime_checkable
class Settling(Protocol):
    """Optional: a source that can say how far its current fetch is complete.

    ``settled_cursor()`` returns a cursor value ``c`` such that every item with a cursor
    below ``c`` that this fetch will ever yield has already been yielded (``None``: no such
    bound yet). An ``UNORDERED`` source announces it at partition boundaries (a finished
    day, company or time window), which lets the sync driver checkpoint and stop at its
    time budget with that much committed instead of nothing. Wrappers derived from
    :class:`adapters.forwarding.ForwardingSource` forward it when the wrapped source has it.
    """

    def settled_cursor(self) -> datetime | None: ...


@runtime_checkable
class Paged(Protocol):
    """Optional: a source that can hand its items over a page at a time.

    ``fetch_pages_since(since)`` yields exactly the items ``fetch_since(since)`` would, in
    the same order, grouped as the source read them (one list per page of the API). The
    sync driver reads a paged source this way: the checks that need not run once per
    item (the lease fence, the time budget, the time-based checkpoint, the progress
    count) run once per page, and no generator layer is resumed per item. Everything
    that decides what lands (the window, the order check, flushes and item-count
    checkpoints) still runs item by item, so a page changes only how soon a time limit is
    noticed: at most one page later. Without this method the driver reads
    ``fetch_since`` item by item.
    """

    def fetch_pages_since(self, since: datetime | None, /) -> Iterator[Sequence[SourceItem]]: ...


def close_fetch(items: Iterable[Any]) -> None:
    """Close a fetch its reader stopped reading (a generator), so the source's ``finally`` runs now.

    The driver and the wrappers close what they stopped reading early (a budget, an upper
    bound, a failure) instead of leaving it to the collector: a source may hold a
    connection, threads or a temporary file until its generator ends.
    """
    close = getattr(items, "close", None)
    if callable(close):
        close()
