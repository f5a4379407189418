"""What one sync did, and everything said about it derived from that one record.

:class:`SyncSummary` is returned by :func:`adapters.sync.sync`; the delta run's metadata
(:meth:`SyncSummary.metadata`) and the run's final log line (:meth:`SyncSummary.log_message`,
:meth:`SyncSummary.log_detail`) are computed from it, so the three cannot disagree and a
counter added to the summary reaches all of them.

Per sink the summary holds :class:`~adapters.sinks.base.SinkCounts` (written, already
present, filtered, rejected), the one definition every sink reports by.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from typing import Any

from adapters.sinks.base import SinkCounts

__all__ = ["SyncSummary"]


@dataclass(frozen=True)
class SyncSummary:
    """What one sync did.

    ``items_read`` counts what the source yielded, ``items_dropped`` those outside the
    run's window (below ``since`` or above ``until_override``). ``sinks`` says per sink
    where the items it was handed ended up (:class:`~adapters.sinks.base.SinkCounts`);
    ``written`` is the ``written`` count of each. ``watermark`` is the greatest cursor
    among durable items; ``cursor_after`` what is stored now. ``complete`` is False when
    ``max_duration`` or the time budget stopped the run early.

    ``outcome``: ``completed``; ``partial`` (stopped by the budget, what was committed is
    in ``cursor_after``); ``busy`` (another live run holds the stream's lease: nothing was
    read or written, ``notes`` says which run and since when). ``checkpoints`` counts the
    intermediate commits; ``run`` is this run's lease id (the owner of its ledger marks).
    """

    connector_name: str
    stream: str
    ordering: str
    since: str | None
    since_origin: str
    until: str | None
    items_read: int
    items_dropped: int
    sinks: dict[str, SinkCounts]
    watermark: str | None
    cursor_before: str | None
    cursor_after: str | None
    complete: bool
    duration_seconds: float
    notes: list[str] = field(default_factory=list)
    #: what the quarantine did (empty without one): see ``Quarantine.report``
    quarantine: dict[str, Any] = field(default_factory=dict)
    outcome: str = "completed"
    checkpoints: int = 0
    run: str | None = None

    @classmethod
    def not_run(
        cls, *, connector_name: str, stream: str, ordering: str, note: str, outcome: str, seconds: float
    ) -> SyncSummary:
        """The summary of a sync that read and wrote nothing (``busy``, or no budget left)."""
        return cls(
            connector_name=connector_name,
            stream=stream,
            ordering=ordering,
            since=None,
            since_origin="none",
            until=None,
            items_read=0,
            items_dropped=0,
            sinks={},
            watermark=None,
            cursor_before=None,
            cursor_after=None,
            complete=False,
            duration_seconds=seconds,
            notes=[note],
            outcome=outcome,
        )

    def with_run(self, run_id: str) -> SyncSummary:
        return replace(self, run=run_id)

    @property
    def written(self) -> dict[str, int]:
        """Per sink, the items this run wrote to its target."""
        return {name: counts.written for name, counts in self.sinks.items()}

    @property
    def items_written(self) -> int:
        return sum(self.written.values())

    def as_dict(self) -> dict[str, Any]:
        values = asdict(self)
        values["written"] = self.written
        return values

    def metadata(self) -> dict[str, Any]:
        """The delta run's metadata: counts, bounds and outcome (never settings or secrets)."""
        facts: dict[str, Any] = {
            "stream": self.stream,
            "ordering": self.ordering,
            "lower_bound_used": self.since,
            "since_origin": self.since_origin,
            "until": self.until,
            "items_read": self.items_read,
            "items_dropped": self.items_dropped,
            "written": self.written,
            "sinks": {name: asdict(counts) for name, counts in self.sinks.items()},
            "watermark": self.watermark,
            "complete": self.complete,
            "outcome": self.outcome,
            "checkpoints": self.checkpoints,
        }
        if self.quarantine:
            facts["quarantine"] = self.quarantine
        return facts

    def log_message(self) -> str:
        return (
            f"{self.stream}: done: read {self.items_read}, wrote {self.items_written}, "
            f"cursor {self.cursor_before or '-'} -> {self.cursor_after or '-'}"
        )

    def log_detail(self) -> dict[str, Any]:
        """The final log line's detail: the metadata plus the cursor before and after."""
        return {**self.metadata(), "cursor_before": self.cursor_before, "cursor_after": self.cursor_after}
