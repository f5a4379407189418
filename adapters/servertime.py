"""The server's clock, as this process can know it: never the host's wall clock.

Why: every time window the package reasons about (how old a pending delivery mark is,
whether a run lease has expired, from when to search for an upload that may have
arrived) compares against timestamps the *server* wrote. The host clock of a connector
container can be off by minutes or days; mixing the two turned a fast host clock into
duplicate uploads. ``context.api`` returns parsed JSON only (no ``Date`` header), so the
server's time is learned from the timestamps in its answers to our own writes (a
custom-data PUT answers ``updated_at``, a delta run start answers ``started_at``), and
carried forward with the host's *monotonic* clock, which measures elapsed time well even
when the wall clock is wrong.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime, timedelta

from adapters.cursor import CursorError, parse_timestamp

__all__ = ["ServerClock", "ServerTimeUnknown"]


class ServerTimeUnknown(RuntimeError):
    """No server answer carried a timestamp yet, so the server's time is not known."""


class ServerClock:
    """``now()`` = the latest server timestamp seen plus the monotonic time elapsed since.

    ``observe`` is fed every server-written timestamp of an answer to a request this
    process made; later observations replace earlier ones only when they are later than
    the current estimate (a late answer to an old request must not pull the clock back).
    """

    def __init__(self, monotonic: Callable[[], float] = time.monotonic) -> None:
        self._monotonic = monotonic
        self._anchor: tuple[datetime, float] | None = None

    @property
    def known(self) -> bool:
        return self._anchor is not None

    def observe(self, timestamp: object) -> datetime | None:
        """Learn from a server timestamp (str or datetime); returns it parsed, or None if unusable."""
        if isinstance(timestamp, datetime):
            seen = timestamp
        elif isinstance(timestamp, str) and timestamp.strip():
            try:
                seen = parse_timestamp(timestamp)
            except CursorError:
                return None
        else:
            return None
        tick = self._monotonic()
        if self._anchor is None or seen > self._estimate(tick):
            self._anchor = (seen, tick)
        return seen

    def now(self) -> datetime:
        """The server's current time, estimated; raises :class:`ServerTimeUnknown` before any answer."""
        return self._estimate(self._monotonic())

    def _estimate(self, tick: float) -> datetime:
        if self._anchor is None:
            raise ServerTimeUnknown("the server's time is not known yet (no timestamped answer seen)")
        seen, at = self._anchor
        return seen + timedelta(seconds=max(0.0, tick - at))
