"""A run's time budget: after it, a run starts no new work, and no retry wait runs past it.

Why: a connector scheduled every 15 minutes whose run takes longer than that overlaps
itself, and a run that is killed by the scheduler loses all its uncommitted progress. With
a budget well inside the schedule, a long backlog drains over several runs, each of which
commits what it wrote, instead of never. Retries are capped by what is left, so a
5-minute ``Retry-After`` cannot start at minute 12.

One budget per job context: every retry policy built with
:meth:`adapters.retry.RetryPolicy.from_context` and every :func:`adapters.sync.sync` of
that job share it (kept in a weak map keyed by the context object, so it dies with it).
It starts when the job first asks for it, i.e. when the connector builds its first retry
policy or starts its first sync.
"""

from __future__ import annotations

import math
import time
import weakref
from collections.abc import Callable
from typing import Any

from adapters.runsettings import RunLimits
from adapters.runtime import ContextLike

__all__ = ["Budget", "budget_of"]


class Budget:
    """``seconds`` of work from construction, measured on the monotonic clock."""

    def __init__(self, seconds: float, *, clock: Callable[[], float] = time.monotonic) -> None:
        if not 0 < seconds < math.inf:
            raise ValueError(f"a time budget must be positive and finite, got {seconds!r}")
        self.seconds = seconds
        self._clock = clock
        self._started = clock()

    def elapsed(self) -> float:
        return self._clock() - self._started

    def remaining(self) -> float:
        return self.seconds - self.elapsed()

    @property
    def spent(self) -> bool:
        return self.remaining() <= 0

    @property
    def winding_down(self) -> bool:
        """In the last tenth of the budget: start no new work, keep the rest for the last commit."""
        # ``remaining()``, written out: this is asked once per item
        return self.seconds - (self._clock() - self._started) <= self.seconds * RESERVE


#: the share of a budget kept for the last flush and commit (reading stops before it)
RESERVE = 0.1

_BUDGETS: weakref.WeakKeyDictionary[Any, Budget] = weakref.WeakKeyDictionary()


def budget_of(context: ContextLike) -> Budget | None:
    """The job's budget (``config.run.time_budget_seconds``), created on first use.

    ``None`` when the context cannot be weakly referenced (then nothing is capped by a
    budget, exactly as before budgets existed).
    """
    try:
        found = _BUDGETS.get(context)
    except TypeError:
        return None
    if found is None:
        found = Budget(RunLimits.from_context(context).time_budget_seconds)
        _BUDGETS[context] = found
    return found
