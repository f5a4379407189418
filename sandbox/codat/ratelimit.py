"""Codat's rate limits in the sandbox: the ``X-Rate-Limit-*`` headers and an enforced quota.

Codat's docs say every response carries ``X-Rate-Limit-Limit``, ``-Remaining`` and
``-Reset`` and that a 429 carries ``Retry-After``, but not the format of ``-Reset``
(a time? a Unix time? seconds?). The headers are on when the store's variant has
``rate_headers="x_rate_limit"``; :class:`RateLimit` (``PUT /_sandbox/codat/rate-limit``)
picks the ``-Reset`` format and, with ``requests`` set, enforces a quota of that many
requests per ``window_seconds``: further requests answer 429 (with ``Retry-After`` or
without, ``retry_after``) until the window ends. Without a quota the headers count the
daily quota down and reset at midnight UTC, as the docs describe.
"""

from __future__ import annotations

import math
import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["DAILY_LIMIT", "RateLimit", "RateWindow"]

#: the daily quota the headers count down (1,000 x (1 + one active company))
DAILY_LIMIT = 2000


class RateLimit(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reset_format: Literal["iso", "epoch", "seconds"] = Field(
        "iso", description="X-Rate-Limit-Reset as an ISO time, a Unix time, or seconds until the reset"
    )
    requests: int | None = Field(None, ge=1, description="this many requests per window (None: no quota)")
    window_seconds: float = Field(60.0, gt=0)
    retry_after: bool = Field(True, description="send Retry-After with the quota's 429")


class RateWindow:
    """The requests counted in the current window, and the headers that describe it."""

    def __init__(self) -> None:
        self.limit = RateLimit()
        self._lock = threading.Lock()
        self._started = time.time()
        self._used = 0
        self._today = 0

    def configure(self, limit: RateLimit) -> None:
        with self._lock:
            self.limit, self._started, self._used = limit, time.time(), 0

    def count(self) -> tuple[bool, dict[str, str]]:
        """Count one request: (whether the quota refuses it, the rate-limit headers to send)."""
        limit = self.limit
        with self._lock:
            now = time.time()
            self._today += 1
            if limit.requests is None:
                today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
                reset = (today + timedelta(days=1)).timestamp()
                return False, self._headers(DAILY_LIMIT, DAILY_LIMIT - self._today, reset, now)
            if now >= self._started + limit.window_seconds:
                self._started, self._used = now, 0
            self._used += 1
            reset_at = self._started + limit.window_seconds
            refused = self._used > limit.requests
            headers = self._headers(limit.requests, limit.requests - self._used, reset_at, now)
            if refused and limit.retry_after:
                headers["Retry-After"] = str(max(1, math.ceil(reset_at - now)))
            return refused, headers

    def _headers(self, total: int, remaining: int, reset_at: float, now: float) -> dict[str, str]:
        fmt = self.limit.reset_format
        if fmt == "epoch":
            reset = str(math.ceil(reset_at))
        elif fmt == "seconds":
            reset = str(max(0, math.ceil(reset_at - now)))
        else:
            reset = datetime.fromtimestamp(reset_at, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        return {
            "X-Rate-Limit-Limit": str(total),
            "X-Rate-Limit-Remaining": str(max(0, remaining)),
            "X-Rate-Limit-Reset": reset,
        }
