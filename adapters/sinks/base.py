"""The sink protocol: where items go, and when they count as durably written.

The sync driver adds items to every sink and calls ``flush()`` on all of them every N
items and at the end; only items that were added before a successful flush of *every*
sink count towards the watermark. A sink may write earlier (a document sink uploads as
each item arrives) but must never report an item durable that is not.

Every sink is idempotent for a given item key: sources deliver the lower-bound item
again on the next run (the bound is inclusive), and a failed run is retried whole.
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
    def skipped(self) -> int:
        """Items the sink decided not to write (already written, filtered by the mapper)."""
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
