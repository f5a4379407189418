"""How long Codat asks us to wait, from its rate-limit headers when ``Retry-After`` is absent.

Codat documents ``X-Rate-Limit-Limit``, ``X-Rate-Limit-Remaining`` and
``X-Rate-Limit-Reset`` on every response, and ``Retry-After`` on a 429, but not the
format of ``-Reset``. A 429 that names no ``Retry-After`` but says the quota is spent
(``-Remaining: 0``) is waited out until ``-Reset``, read as an ISO or HTTP time, a Unix
time, or seconds from now. Absolute times are measured against the response's own
``Date`` header, so a host clock a day off computes the same wait; only without
``Date`` is the host clock used. A 429 whose quota is not spent (another limit, such as
the per-minute one) gets the ordinary backoff: its ``-Reset`` names the daily quota's
reset, which would be far too long a wait.

The wait is only a request: :class:`adapters.retry.Retrier` still caps it by
``max_wait`` and by the run's time budget, and gives up rather than sleep past either.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

from adapters.cursor import CursorError, parse_timestamp
from adapters.failures import parse_retry_after

__all__ = ["quota_reset_wait", "requested_wait", "server_date"]

#: numbers above this are Unix times, below it seconds from now (1e9 s is 2001-09-09)
_EPOCH_FLOOR = 1e9


def _utcnow() -> datetime:
    return datetime.now(UTC)


def server_date(headers: Mapping[str, str]) -> datetime | None:
    """The response's ``Date`` header as an aware UTC time, or ``None``."""
    value = headers.get("date") or headers.get("Date")
    if not value:
        return None
    try:
        return parsedate_to_datetime(value).astimezone(UTC)
    except (TypeError, ValueError, IndexError):
        return None


def _reset_time(value: str, now: datetime) -> float | None:
    text = value.strip()
    try:
        number = float(text)
    except ValueError:
        number = None
    if number is not None:
        if number >= _EPOCH_FLOOR * 1000:  # a Unix time in milliseconds
            number /= 1000
        return number - now.timestamp() if number >= _EPOCH_FLOOR else number
    try:
        return (parse_timestamp(text) - now).total_seconds()
    except CursorError:
        pass
    try:
        return (parsedate_to_datetime(text).astimezone(UTC) - now).total_seconds()
    except (TypeError, ValueError, IndexError):
        return None


def quota_reset_wait(
    headers: Mapping[str, str], *, clock: Callable[[], datetime] = _utcnow
) -> float | None:
    """Seconds until ``X-Rate-Limit-Reset`` when ``X-Rate-Limit-Remaining`` says the quota is spent."""
    remaining = headers.get("x-rate-limit-remaining") or headers.get("X-Rate-Limit-Remaining")
    reset = headers.get("x-rate-limit-reset") or headers.get("X-Rate-Limit-Reset")
    if remaining is None or reset is None:
        return None
    try:
        spent = float(remaining) <= 0
    except ValueError:
        return None
    if not spent:
        return None
    seconds = _reset_time(reset, server_date(headers) or clock())
    return None if seconds is None else max(0.0, seconds)


def requested_wait(
    status: int, headers: Mapping[str, str], *, clock: Callable[[], datetime] = _utcnow
) -> float | None:
    """What a Codat answer asks us to wait: ``Retry-After``, else (on a 429) the quota's reset.

    A ``Retry-After`` given as an HTTP date is also measured against ``Date``.
    """
    retry_after = parse_retry_after(headers.get("Retry-After"), now=server_date(headers) or clock())
    if retry_after is not None or status != 429:
        return retry_after
    return quota_reset_wait(headers, clock=clock)
