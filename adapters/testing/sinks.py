"""A sink that keeps items in memory, for tests of sources and of the sync driver."""

from __future__ import annotations

from adapters.records import DocumentItem, RecordItem
from adapters.sinks.base import SinkCounts

__all__ = ["ListSink"]

Item = RecordItem | DocumentItem


class ListSink:
    """Implements :class:`adapters.sinks.base.Sink`: ``add`` buffers, ``flush`` makes durable.

    :attr:`durable` holds every flushed item in order; keys seen before count as
    ``already_present`` (sinks are idempotent per key), so a re-delivered boundary item shows up.
    """

    def __init__(self, name: str = "list") -> None:
        self._name = name
        self.buffer: list[Item] = []
        self.durable: list[Item] = []
        self.flushes = 0
        self._keys: set[str] = set()
        self._skipped = 0

    @property
    def name(self) -> str:
        return self._name

    @property
    def pending(self) -> int:
        return len(self.buffer)

    @property
    def counts(self) -> SinkCounts:
        """A key flushed before is already present; every other flushed item is written."""
        return SinkCounts(written=len(self.durable) - self._skipped, already_present=self._skipped)

    def add(self, item: Item) -> None:
        self.buffer.append(item)

    def flush(self) -> int:
        written = len(self.buffer)
        for item in self.buffer:
            if item.key in self._keys:
                self._skipped += 1
            self._keys.add(item.key)
        self.durable.extend(self.buffer)
        self.buffer.clear()
        self.flushes += 1
        return written

    def close(self) -> None:
        self.buffer.clear()

    def keys(self) -> list[str]:
        return [item.key for item in self.durable]
