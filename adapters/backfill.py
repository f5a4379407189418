"""Backfill plans: a history split into bounded windows, one framework job per window.

Why: a backfill of years of history is more than any one run's time budget, and one
machine reads it one page after another. Split into windows, each window is an ordinary
one-off job of the connector with ``since_override`` and ``until_override`` set: it
never touches the stored cursor (a bounded backfill leaves it alone), and it holds a
lease scope and a delta stream of its own (:func:`adapters.sync.backfill_scope`), so the
windows run concurrently, on as many workers as the framework's scheduler gives them,
beside the scheduled job. A second start of the *same* window finds it busy and writes
nothing, so a retrying scheduler cannot double a window.

Both bounds of a window are inclusive (the sync driver keeps items whose cursor equals
``until_override``), so consecutive windows share their boundary instant: an item
stamped exactly there is read by both, which the idempotent sinks absorb, and nothing
between two windows can fall through a gap. A window that runs out of time budget stops
with ``outcome="partial"``; since it commits no cursor, it is simply started again (its
sinks skip what it already wrote).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from adapters.cursor import format_cursor, parse_timestamp

__all__ = ["MAX_WINDOWS", "BackfillPlanError", "Window", "backfill_scope", "plan_windows"]

#: more windows than this is a unit mistake (seconds typed as days), not a plan
MAX_WINDOWS = 10_000


class BackfillPlanError(ValueError):
    """The requested plan is impossible (bounds reversed, no or two ways to size it, too many windows)."""


@dataclass(frozen=True, slots=True)
class Window:
    """One bounded backfill: every item with ``since <= cursor <= until``."""

    since: datetime
    until: datetime

    def params(self) -> dict[str, str]:
        """The job params that run this window (the sync driver reads exactly these)."""
        return {"since_override": format_cursor(self.since), "until_override": format_cursor(self.until)}

    @property
    def lease_scope(self) -> str:
        """The lease scope (and delta-stream suffix) a run of this window holds."""
        return backfill_scope(self.since, self.until)


def backfill_scope(since: datetime | None, until: datetime | None) -> str:
    """The lease scope and delta-stream suffix of a bounded backfill: its window, compactly.

    Per window, not one for every backfill: the windows of a plan run as concurrent jobs
    and must neither find each other busy nor abandon each other's delta runs; two starts
    of one window still exclude each other.
    """

    def compact(value: datetime | None) -> str:
        if value is None:
            return "open"
        value = value.astimezone(UTC)
        return value.strftime("%Y%m%dT%H%M%S.%fZ" if value.microsecond else "%Y%m%dT%H%M%SZ")

    return f"backfill-{compact(since)}-{compact(until)}"


def plan_windows(
    since: datetime | str,
    until: datetime | str,
    *,
    windows: int | None = None,
    window_days: float | None = None,
) -> list[Window]:
    """Split ``[since, until]`` into ``windows`` equal windows, or windows of ``window_days`` days.

    Exactly one of the two sizes is given. With ``window_days`` the last window is the
    remainder (shorter, never empty). Timestamps may be strings in any form the cursor
    rules accept; they are compared as UTC instants.
    """
    start, end = parse_timestamp(since), parse_timestamp(until)
    if end <= start:
        raise BackfillPlanError(
            f"--until ({format_cursor(end)}) must be after --since ({format_cursor(start)})"
        )
    if (windows is None) == (window_days is None):
        raise BackfillPlanError("give exactly one of --windows N and --window-days D")
    if windows is not None:
        if windows < 1:
            raise BackfillPlanError(f"--windows must be at least 1, got {windows}")
        step = (end - start) / windows
        if step < timedelta(microseconds=1):
            raise BackfillPlanError(f"{windows} windows are more than the microseconds between the bounds")
        count = windows
    else:
        assert window_days is not None
        if window_days <= 0:
            raise BackfillPlanError(f"--window-days must be positive, got {window_days:g}")
        step = timedelta(days=window_days)
        count = -(-(end - start) // step)  # ceiling division of timedeltas
    if count > MAX_WINDOWS:
        raise BackfillPlanError(f"the plan would have {count} windows; at most {MAX_WINDOWS} are allowed")
    bounds = [start + step * i for i in range(count)] + [end]
    return [Window(bounds[i], min(bounds[i + 1], end)) for i in range(count)]
