"""An in-memory ``delta_run``, so a connector's sync can be tested without the framework."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

__all__ = ["InMemoryDelta", "InMemoryRun"]


@dataclass
class InMemoryRun:
    """The handle ``delta_run`` yields (see :class:`adapters.sync.DeltaRunLike`)."""

    lower_bound_cursor: str | None
    new_cursor: str | None = None
    records_processed: int = 0
    metadata: dict[str, Any] = field(default_factory=dict)

    def set_new_cursor(self, cursor: str) -> None:
        self.new_cursor = cursor

    def set_records_processed(self, count: int) -> None:
        self.records_processed = count

    def set_metadata(self, metadata: dict[str, Any]) -> None:
        self.metadata = dict(metadata)


class InMemoryDelta:
    """``delta_run`` over one cursor per (connector, stream), with the framework's rule:
    a run that completes stores its new cursor, a run that raises leaves the cursor alone.

    Pass it as ``sync(..., delta_run=delta)``; inspect :attr:`cursors` and :attr:`runs`.
    """

    def __init__(self, cursors: dict[tuple[str, str], str] | None = None) -> None:
        self.cursors: dict[tuple[str, str], str] = dict(cursors or {})
        self.runs: list[tuple[str, str, str, InMemoryRun]] = []  # (connector, stream, outcome, run)

    def cursor(self, connector_name: str, stream: str) -> str | None:
        return self.cursors.get((connector_name, stream))

    @contextmanager
    def __call__(
        self, context: Any, connector_name: str, stream: str, cursor_type: str = "timestamp_utc"
    ) -> Iterator[InMemoryRun]:
        run = InMemoryRun(self.cursors.get((connector_name, stream)))
        try:
            yield run
        except BaseException:
            self.runs.append((connector_name, stream, "failed", run))
            raise
        self.runs.append((connector_name, stream, "completed", run))
        if run.new_cursor is not None:
            self.cursors[(connector_name, stream)] = run.new_cursor
