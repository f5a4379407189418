"""Watermark tracking: the greatest cursor the run may commit, from durably written items only.

An item's cursor counts in two steps: when the item is handed to the sinks it is
*pending* (its batch's greatest cursor is remembered), and only when every sink has
flushed that batch does it become *durable*. What the run may commit at any moment
depends on what the source promised:

* a ``CURSOR_ORDERED`` source: everything below the durable watermark is written, so it
  is committable at any time (a checkpoint, a run stopped by its budget);
* an ``UNORDERED`` source that is :class:`~adapters.protocol.Settling`: its settled
  cursor, a bound below which it has yielded everything (checked against nothing here:
  the source answers for it);
* otherwise nothing until the run has read everything, when the durable watermark is.

A source that promised cursor order and broke it (an item older than the one before)
is treated as unordered from then on; :meth:`Watermark.observe` says so once, with the
item that broke it, for the run's notes and log.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from adapters.cursor import format_cursor

__all__ = ["Watermark"]


class Watermark:
    """Tracks pending and durable cursors of one run and says what may be committed.

    ``ordered`` is whether the source promised cursor order; ``settled`` is an
    unordered source's ``settled_cursor`` (``None`` when it offers none).
    """

    def __init__(self, *, ordered: bool, settled: Callable[[], datetime | None] | None = None) -> None:
        self.ordered = ordered
        self._settled = settled
        #: greatest cursor among items every sink has flushed
        self.durable: datetime | None = None
        self._pending: datetime | None = None  # greatest cursor among items not yet flushed
        self._last: datetime | None = None  # greatest cursor seen, for the order check

    def observe(self, key: str, cursor: datetime) -> str | None:
        """Note an item inside the window as read; a note when it breaks promised cursor order."""
        broke: str | None = None
        if self.ordered and self._last is not None and cursor < self._last:
            self.ordered = False
            broke = (
                f"source yielded {key!r} at {format_cursor(cursor)} after "
                f"{format_cursor(self._last)}: not in cursor order, watermark kept to the end"
            )
        if self._last is None or cursor > self._last:
            self._last = cursor
        return broke

    def handed_to_sinks(self, cursor: datetime | None) -> None:
        """The item with ``cursor`` is in the sinks' batch now (``None``: it never moves the watermark)."""
        if cursor is not None and (self._pending is None or cursor > self._pending):
            self._pending = cursor

    def flushed(self) -> None:
        """Every sink flushed: the batch's items are durable now."""
        if self._pending is not None and (self.durable is None or self._pending > self.durable):
            self.durable = self._pending
        self._pending = None

    def committable(self) -> datetime | None:
        """What may be committed while the run is still reading (see the module docstring)."""
        if self.ordered:
            return self.durable
        if self._settled is not None:
            return self._settled()
        return None

    def final(self, *, complete: bool) -> datetime | None:
        """What may be committed when reading ends: all of it if the run read everything."""
        if complete and not self.ordered:
            return self.durable
        return self.committable()
