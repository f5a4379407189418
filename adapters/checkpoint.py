"""When a long run commits what it has durably written so far: the checkpoint policy.

Why: without checkpoints a run that fails after writing 90% of a large backlog commits
nothing, and the next run repeats all of it (and, if it is as long, fails the same way).
A checkpoint closes the run's current ``delta_run`` with the cursor of the durable
prefix and opens the next one, so after a failure the next run repeats at most one
checkpoint interval.

Why consecutive ``delta_run`` s are safe: each one is an ordinary run of the stream, whose
cursor covers only items every sink has durably written (the driver flushes first), so a
crash between two of them leaves exactly what an ordinary run would; the next run's
``lower_bound_cursor`` is read back and compared with what was committed, which both
confirms the commit (a lost answer to ``complete`` is recognised) and fences against any
other writer of the cursor; and the run lease is held across all of them, so no other run
of the stream starts in the gap.

What may be committed depends on the source: an ordered source's flushed prefix, an
unordered one's settled cursor (a :class:`~adapters.protocol.Settling` source announces
below which cursor everything has been yielded, e.g. per finished partition), nothing for
a full scan. A checkpoint is taken when either limit is reached and there is something
new to commit; both limits are settings (``config.run``), so a source whose natural
boundaries are frequent (Codat days) still checkpoints no more often than the time limit.
"""

from __future__ import annotations

from dataclasses import dataclass

from adapters.runsettings import RunLimits

__all__ = ["CheckpointPolicy"]


@dataclass(frozen=True, slots=True)
class CheckpointPolicy:
    """Take a checkpoint after ``every_items`` items or ``every_seconds`` seconds (None: never)."""

    every_items: int | None = None
    every_seconds: float | None = None

    @classmethod
    def from_settings(cls, settings: RunLimits) -> CheckpointPolicy:
        return cls(settings.checkpoint_every_items, settings.checkpoint_every_seconds)

    @property
    def enabled(self) -> bool:
        return self.every_items is not None or self.every_seconds is not None

    def due(self, *, items: int, seconds: float) -> bool:
        """Whether ``items`` items and ``seconds`` seconds since the last checkpoint call for one."""
        if self.every_items is not None and items >= self.every_items:
            return True
        return self.every_seconds is not None and seconds >= self.every_seconds
