"""``config.run``: how a connector run shares its schedule with others (budget, lease, checkpoints).

One settings block, validated before any call like ``config.retry``, so an operator can
fit a connector to its schedule without code, e.g.::

    "run": {"time_budget_seconds": 420, "lease_ttl_seconds": 180, "checkpoint_every_seconds": 30}

The defaults fit a 15-minute schedule: a run stops starting new work after 10 minutes,
leaving 5 for its last flush and commit; a run that died is taken over 5 minutes after
its last sign of life.
"""

from __future__ import annotations

from collections.abc import Mapping

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from adapters.runtime import ContextLike

__all__ = ["RunLimits"]


class RunLimits(BaseModel):
    """Budget, lease and checkpoint settings of one connector run."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    time_budget_seconds: float = Field(
        default=600.0,
        gt=0,
        allow_inf_nan=False,
        description="after this, a run starts no new work (reads, retries)",
    )
    lease_ttl_seconds: float = Field(
        default=300.0,
        gt=0,
        allow_inf_nan=False,
        description="a lease whose holder gave no sign of life for this long is free",
    )
    upload_deadline_seconds: float = Field(
        default=120.0,
        gt=0,
        allow_inf_nan=False,
        description="assumed: Nuntiq finishes or drops any write request within this long",
    )
    checkpoint_every_items: int | None = Field(
        default=5000, ge=1, description="commit an ordered prefix after this many items (None: never)"
    )
    checkpoint_every_seconds: float | None = Field(
        default=60.0,
        gt=0,
        allow_inf_nan=False,
        description="commit an ordered prefix after this long (None: never)",
    )

    upload_batch_size: int = Field(
        default=40,
        ge=1,
        le=1000,
        description="deliveries per exactly-once batch: one ledger read, one pending and one done write",
    )
    upload_concurrency: int = Field(
        default=4, ge=1, le=32, description="uploads in flight at once (Nuntiq documents, Codat requests)"
    )

    @model_validator(mode="after")
    def _deadline_inside_lease(self) -> RunLimits:
        # A holder re-checks its lease at most a quarter TTL before a write is sent; that
        # write must have landed (or been dropped) before anyone may take the lease over.
        if self.upload_deadline_seconds + self.lease_ttl_seconds / 4 >= self.lease_ttl_seconds:
            raise ValueError(
                f"upload_deadline_seconds ({self.upload_deadline_seconds:g}) must be below three "
                f"quarters of lease_ttl_seconds ({self.lease_ttl_seconds:g})"
            )
        return self

    @classmethod
    def from_context(cls, context: ContextLike) -> RunLimits:
        """``config.run`` of the job's settings, or the defaults; bad values refused, naming them."""
        raw = context.get_config("run")
        if raw is None:
            return cls()
        if not isinstance(raw, Mapping):
            raise ValueError(f"config.run must be an object of run settings, got {raw!r:.80}")
        try:
            return cls.model_validate(dict(raw))
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in error['loc']) or 'run'}: {error['msg']}" for error in exc.errors()
            )
            raise ValueError(f"config.run is not valid: {problems}") from None
