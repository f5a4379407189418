"""A confirmed lower bound on Connect's clock without a ``Date`` header: its newest stamp.

Why: an ``UNORDERED`` stream's window must close at or before the server's time at the
start of the run, or a record updated while the run pages (its new stamp inside the
window, its position already read) can fall behind the committed cursor. The host
clock cannot say when that is: a host a day fast closes the window a day in Connect's
future. Every stamp Connect wrote before we asked is at or before its time then, so the
newest ``events.updated.at`` of the collection is such a bound, confirmed by the server
itself. The field cannot be ordered by, so it is found by bisection on ``ge(field, t)``
with one-record pages (about 20 requests for a day's range at one-second steps), then
read exactly from the records of its last second. Records at that stamp are inside the
window; anything newer is left to the next run, whose own bound will have moved. The
host clock is only a starting guess for the search, so its error costs requests, not
records.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from adapters.cursor import CursorError, parse_timestamp

__all__ = ["newest_stamp"]

#: the search stops when the newest stamp is known to this step
RESOLUTION = timedelta(seconds=1)
#: where the search starts without a lower bound (older than any Connect record)
FLOOR = datetime(2000, 1, 1, tzinfo=UTC)
#: records read from the newest second to find its exact newest stamp
LAST_SECOND_PAGE = 100

#: ``records_at_or_after(t, limit)``: up to ``limit`` records whose field is ``>= t``
Probe = Callable[[datetime, int], list[dict[str, Any]]]


def _stamp(record: dict[str, Any], field: str) -> datetime | None:
    value: Any = record
    for part in field.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    try:
        return parse_timestamp(value) if isinstance(value, str) else None
    except CursorError:
        return None


def newest_stamp(probe: Probe, field: str, *, since: datetime | None, guess: datetime) -> datetime | None:
    """The newest ``field`` value at or after ``since``; ``None`` when there is none.

    ``guess`` (the host clock) only seeds the search: a wrong guess costs a few probes.
    """
    low = since or FLOOR

    def exists(at: datetime) -> bool:
        return bool(probe(at, 1))

    if not exists(low):
        return None
    # find a bound with nothing at or after it, doubling the step from the guess
    high = max(guess, low + RESOLUTION)
    step = max(high - low, RESOLUTION)
    while exists(high):
        low, high, step = high, high + step, step * 2
    while high - low > RESOLUTION:
        middle = low + (high - low) / 2
        if exists(middle):
            low = middle
        else:
            high = middle
    stamps = [s for s in (_stamp(r, field) for r in probe(low, LAST_SECOND_PAGE)) if s is not None]
    return max(stamps) if stamps else low
