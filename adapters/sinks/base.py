"""The sink protocol: where items go, and when they count as durably written.

The sync driver adds items to every sink and calls ``flush()`` on all of them every N
items and at the end; only items that were added before a successful flush of *every*
sink count towards the watermark. A sink may write earlier (a document sink uploads as
each item arrives) but must never report an item durable that is not.

Every sink is idempotent for a given item key: sources deliver the lower-bound item
again on the next run (the bound is inclusive), and a failed run is retried whole.

What a sink did with its items is told in one way by every sink, :class:`SinkCounts`,
so a run summary means the same for Loads, rows, Nuntiq documents and Codat uploads.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol, TypeVar, runtime_checkable

from adapters.records import DocumentItem, RecordItem

ItemT_contra = TypeVar(
    "ItemT_contra", RecordItem, DocumentItem, RecordItem | DocumentItem, contravariant=True
)


@dataclass(frozen=True, slots=True)
class SinkCounts:
    """Where each item handed to a sink ended up: exactly one of four places.

    ``written``
        This run wrote it to the target (a Load row saved, a document uploaded, a file
        sent to Codat, a custom-data row put).
    ``already_present``
        The target had it already, so nothing was sent again: a delivery ledger's done
        mark, a document found by reconciliation after a lost answer, a key the sink saw
        before. Re-delivered boundary items land here in sinks that can tell.
    ``filtered``
        The sink chose not to write it (its mapper returned nothing): not an error.
    ``rejected``
        The sink or its target refused it (unmappable, rejected by a Load, a file Codat
        does not accept): quarantined or reported by name, never silently dropped.

    A sink that cannot tell ``written`` from ``already_present`` (a Load upserts by
    natural key) counts ``written``. Counts cover the sink's lifetime, i.e. one run.
    """

    written: int = 0
    already_present: int = 0
    filtered: int = 0
    rejected: int = 0

    @property
    def handled(self) -> int:
        """Items the sink is finished with, whichever way."""
        return self.written + self.already_present + self.filtered + self.rejected


@runtime_checkable
class Sink(Protocol[ItemT_contra]):
    @property
    def name(self) -> str:
        """Used in the run summary, logs and metadata."""
        ...

    @property
    def pending(self) -> int:
        """Items added but not yet durably written."""
        ...

    @property
    def counts(self) -> SinkCounts:
        """What this sink did with the items handed to it so far (see :class:`SinkCounts`)."""
        ...

    def add(self, item: ItemT_contra) -> None: ...

    def flush(self) -> int:
        """Write everything pending; return how many items became durable with this call."""
        ...

    def close(self) -> None:
        """Release resources; does not flush (a failed run must not write its tail)."""
        ...


class SinkError(Exception):
    """A sink refused or failed to write items; the message names the source keys."""


class RecordRefused(SinkError):
    """A sink refuses one item permanently (it cannot be mapped, or the target rejects it).

    Raised by ``add()`` for that item alone: the sink stays usable for the items behind
    it, so the sync driver can quarantine this one and go on. Without a quarantine the
    run fails with this error, as before.
    """

    def __init__(self, message: str, *, key: str) -> None:
        super().__init__(message)
        self.key = key


@dataclass(frozen=True, slots=True)
class Rejection:
    """One item a sink's target rejected on flush, found among a rejected batch."""

    key: str
    reason: str
    cursor: datetime | None = None


@dataclass(frozen=True, slots=True)
class IsolatedFlush:
    """What :meth:`IsolatingSink.flush_isolating` did: rows made durable, rows rejected."""

    written: int
    rejected: Sequence[Rejection]


@runtime_checkable
class IsolatingSink(Protocol):
    """A sink that can write the good part of a batch its target rejected.

    ``flush()`` keeps its all-or-nothing meaning (a rejected batch fails the run, which
    is the fail-fast behaviour); ``flush_isolating()`` instead finds the rejected items
    (by splitting the batch), writes every other one, and reports the rejected ones so
    the driver can quarantine them. The driver calls it only when a quarantine is set.
    """

    def flush_isolating(self) -> IsolatedFlush: ...
