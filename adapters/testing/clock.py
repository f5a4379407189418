"""A fake clock for retry and budget tests: sleeping advances time, nothing really waits."""

from __future__ import annotations

__all__ = ["FakeClock"]


class FakeClock:
    """``clock`` and ``sleep`` for :class:`adapters.retry.Retrier` (and any injected seam).

    Every sleep is kept in :attr:`sleeps`, so a test can assert how long a retry
    *would* have waited (e.g. that a ``Retry-After`` was honoured).
    """

    def __init__(self, start: float = 0.0) -> None:
        self.now = start
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds

    def advance(self, seconds: float) -> None:
        self.now += seconds
