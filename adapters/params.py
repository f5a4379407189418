"""Job parameters, checked before a sync makes any call.

A typo in a job parameter must not silently change what a run does: ``since_overide``
would otherwise turn a backfill into a normal run. So:

* the parameters :func:`adapters.sync.sync` reads (:data:`SYNC_PARAMS`) are parsed and
  range-checked here, and a bad value names the parameter and what is accepted;
* any *other* parameter that is a near miss of a known one (the sync's, or those the
  connector declares) is refused with "did you mean …";
* any other parameter is accepted untouched: connectors have params of their own and the
  framework may pass some of its own (an unconfirmed assumption, listed in the README).

Listing the parameters needs the context to expose them; the framework's documented
surface only has ``get_param``, so :func:`param_names` looks for a ``job_params`` (local
runtime) or ``params`` (test kit) mapping and skips the typo check when there is none.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from adapters.cursor import CursorError, format_cursor, parse_timestamp
from adapters.runtime import ContextLike
from adapters.suggest import closest, did_you_mean

__all__ = [
    "EARLIEST_TIMESTAMP",
    "LATEST_TIMESTAMP",
    "MAX_LOOKBACK_DAYS",
    "SYNC_PARAMS",
    "JobParams",
    "ParamError",
    "param_names",
    "read_job_params",
]

#: the job parameters the sync driver itself reads
SYNC_PARAMS: tuple[str, ...] = ("since_override", "until_override", "lookback_days")

#: a timestamp outside this range is a mistake (a unit error, a year typed wrong), not a
#: cursor: 1970 predates every source the adapters read, 2100 is far past any clock skew
EARLIEST_TIMESTAMP = datetime(1970, 1, 1, tzinfo=UTC)
LATEST_TIMESTAMP = datetime(2100, 1, 1, tzinfo=UTC)
#: a century: larger bootstrap windows only arise from typos and would overflow datetimes
MAX_LOOKBACK_DAYS = 36_500


class ParamError(CursorError):
    """A job parameter is misspelled, unparseable or out of range (raised before any call)."""


@dataclass(frozen=True)
class JobParams:
    """The sync driver's parameters, parsed; ``None`` where not given."""

    since_override: datetime | None = None
    until_override: datetime | None = None
    lookback_days: int | None = None


def param_names(context: ContextLike) -> list[str] | None:
    """Names of every job parameter the context holds, or None when it cannot list them."""
    for attribute in ("job_params", "params"):
        value = getattr(context, attribute, None)
        if isinstance(value, Mapping):
            return [str(k) for k in value]
    return None


def _blank(raw: Any) -> bool:
    return raw is None or (isinstance(raw, str) and not raw.strip())


def _timestamp(context: ContextLike, name: str) -> datetime | None:
    raw = context.get_param(name)
    if _blank(raw):
        return None
    try:
        value = parse_timestamp(raw)
    except (CursorError, OverflowError, ValueError):
        raise ParamError(f"job parameter {name} is not a timestamp: {raw!r}") from None
    if not EARLIEST_TIMESTAMP <= value < LATEST_TIMESTAMP:
        raise ParamError(
            f"job parameter {name} is outside {format_cursor(EARLIEST_TIMESTAMP)} .. "
            f"{format_cursor(LATEST_TIMESTAMP)}: {raw!r}"
        )
    return value


def _whole_days(context: ContextLike, name: str) -> int | None:
    raw = context.get_param(name)
    if _blank(raw):
        return None
    accepted = f"a whole number of days from 0 to {MAX_LOOKBACK_DAYS}"
    days: int | None = None
    if isinstance(raw, int) and not isinstance(raw, bool):
        days = raw
    elif isinstance(raw, float) and raw.is_integer():
        days = int(raw)
    elif isinstance(raw, str) and raw.strip().lstrip("+-").isdigit():
        days = int(raw.strip())
    if days is None:
        raise ParamError(f"job parameter {name} must be {accepted}, got {raw!r}")
    if not 0 <= days <= MAX_LOOKBACK_DAYS:
        raise ParamError(f"job parameter {name} must be {accepted}, got {raw!r}")
    return days


def _refuse_near_misses(context: ContextLike, declared: Iterable[str]) -> None:
    names = param_names(context)
    if names is None:
        return
    known = [*SYNC_PARAMS, *declared]
    for name in names:
        if name in known:
            continue
        if closest(name, known):
            hint = did_you_mean(name, known)
            raise ParamError(f"job parameter {name!r} is not one this connector reads{hint}")


def read_job_params(context: ContextLike, *, declared: Iterable[str] = ()) -> JobParams:
    """Parse and check the sync's job parameters; refuse near misses of ``declared`` ones too.

    Raises :class:`ParamError` naming the parameter, the value seen and what is accepted.
    """
    declared = tuple(declared)
    _refuse_near_misses(context, declared)
    since = _timestamp(context, "since_override")
    until = _timestamp(context, "until_override")
    if since is not None and until is not None and until < since:
        raise ParamError(
            f"until_override {format_cursor(until)} is before since_override {format_cursor(since)}"
        )
    days = _whole_days(context, "lookback_days")
    return JobParams(since_override=since, until_override=until, lookback_days=days)
