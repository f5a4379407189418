"""The window a sync run reads: its lower bound (``since``) and its optional upper bound.

The bound is decided in two steps because the two halves are known at different times:
what the job asked for (job params, the stream's lookback, the bootstrap window) is read
and checked before any call, so a typo fails fast; the stored cursor is only known once
the delta run is open. :class:`WindowRequest` is the first half, :meth:`WindowRequest.resolve`
combines it with the stored cursor into a :class:`RunWindow`, which then says of each
item's cursor whether it lies below, inside or above the window.

The precedence itself (``since_override`` > stored cursor minus lookback > bootstrap
window) is :func:`adapters.cursor.resolve_since`; this module only feeds it and checks
that the upper bound does not lie before the lower one.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import Enum

from adapters.cursor import CursorError, ResolvedSince, format_cursor, resolve_since
from adapters.params import JobParams

__all__ = ["Placement", "RunWindow", "WindowRequest"]


class Placement(Enum):
    """Where an item's cursor lies relative to the run's window."""

    BELOW = "below"  # covered by an earlier run: dropped
    INSIDE = "inside"
    ABOVE = "above"  # past ``until_override``: dropped (a cursor-ordered run stops there)


@dataclass(frozen=True)
class WindowRequest:
    """What the job asked for, before the stored cursor is known.

    ``lookback_days`` is the bootstrap window of a first run (``None``: everything), the
    ``lookback_days`` job param already applied over the connector's default.
    """

    since_override: datetime | None
    until_override: datetime | None
    lookback: timedelta
    lookback_days: int | None

    @classmethod
    def from_params(
        cls, params: JobParams, *, lookback: timedelta, default_lookback_days: int | None
    ) -> WindowRequest:
        days = default_lookback_days if params.lookback_days is None else params.lookback_days
        return cls(params.since_override, params.until_override, lookback, days)

    @property
    def bounded_backfill(self) -> bool:
        """A backfill of a closed window: it runs beside the scheduled job and never moves its cursor."""
        return self.since_override is not None and self.until_override is not None

    def resolve(self, stored: str | None, *, now: datetime) -> RunWindow:
        """The window of this run given the ``stored`` cursor; refuses an upper bound below the lower."""
        resolved = resolve_since(
            stored, self.since_override, lookback=self.lookback, lookback_days=self.lookback_days, now=now
        )
        until = self.until_override
        if until is not None and resolved.value is not None and until < resolved.value:
            raise CursorError(
                f"until_override {format_cursor(until)} is before the run's lower bound "
                f"{format_cursor(resolved.value)}"
            )
        return RunWindow(resolved, until)


@dataclass(frozen=True)
class RunWindow:
    """The resolved window: ``since`` (inclusive, with where it came from) and ``until`` (inclusive)."""

    resolved: ResolvedSince
    until: datetime | None

    @property
    def since(self) -> datetime | None:
        return self.resolved.value

    @property
    def is_override(self) -> bool:
        return self.resolved.is_override

    @property
    def since_text(self) -> str | None:
        return format_cursor(self.since) if self.since is not None else None

    @property
    def until_text(self) -> str | None:
        return format_cursor(self.until) if self.until is not None else None

    def place(self, cursor: datetime) -> Placement:
        since, until = self.resolved.value, self.until
        if since is not None and cursor < since:
            return Placement.BELOW
        if until is not None and cursor > until:
            return Placement.ABOVE
        return Placement.INSIDE
