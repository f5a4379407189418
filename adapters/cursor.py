"""Time cursors: parsing whatever sources send, formatting what we store, and the commit rule.

Sources send ``Z``, ``+00:00``, other offsets, fractions of any length, bare dates and
zone-less values. Comparing those as strings silently gets the order wrong (``...Z`` sorts
after ``...+00:00``; ``.5`` after ``.49``), so everything here turns them into aware UTC
datetimes first, and stores cursors in one fixed-width UTC format that also sorts as text.

The functions are pure (``now`` is passed in) so the rules can be property-tested without
a clock, and so the sync driver is the only place that decides *when* they are applied.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, tzinfo
from enum import StrEnum

__all__ = [
    "CursorError",
    "ResolvedSince",
    "SinceOrigin",
    "format_cursor",
    "local_to_utc",
    "next_cursor",
    "parse_timestamp",
    "resolve_since",
]

#: the stored cursor format: fixed width, UTC, microseconds, so text order == time order
CURSOR_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"

_DATE_ONLY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
# ``+0200`` / ``+02`` offsets; fromisoformat takes ``+0200`` but not a bare ``+02``
_SHORT_OFFSET = re.compile(r"([+-]\d{2})$")
# fractions longer than microseconds: truncate (never round up across a second boundary)
_LONG_FRACTION = re.compile(r"(\.\d{6})\d+")
# The common shape (what Connect and most APIs send): none of the normalisations below
# change it, so it goes straight to fromisoformat. Parsing is per record, twice per
# record on keyset-paged streams, so this path is what 100,000-record syncs pay for.
_PLAIN = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,6})?(?:Z|[+-]\d{2}:\d{2})")


class CursorError(ValueError):
    """A value that should be a timestamp is not one; the message names the value."""


def parse_timestamp(value: str | datetime | date, *, default_tz: tzinfo = UTC) -> datetime:
    """Return ``value`` as an aware UTC datetime.

    Zone-less values (and bare dates, read as midnight) are interpreted in ``default_tz``:
    a source that sends local times without an offset says so through that argument
    rather than having its values silently taken as UTC. Fractions longer than six
    digits are truncated to microseconds. Anything unparseable raises :class:`CursorError`
    naming the value.
    """
    if isinstance(value, datetime):
        parsed = value
    elif isinstance(value, date):
        parsed = datetime(value.year, value.month, value.day)
    elif isinstance(value, str):
        parsed = _parse_text(value)
    else:
        raise CursorError(f"not a timestamp: {value!r} (type {type(value).__name__})")
    if parsed.tzinfo is None or parsed.utcoffset() is None:
        return local_to_utc(parsed.replace(tzinfo=None), default_tz)
    return parsed.astimezone(UTC)


def local_to_utc(wall: datetime, zone: tzinfo) -> datetime:
    """The UTC instant of the zone-less wall time ``wall`` in ``zone``, losing nothing at DST.

    A wall time that occurs twice (the autumn fold) reads as the *earlier* instant, so a
    cursor taken from it can never sit past the second occurrence's files. A wall time that
    never occurs (the spring gap) reads as the first instant after the gap, the moment the
    clocks jump: reading it with the offset before the jump instead would put it up to an
    hour later than files stamped just after the gap. The mapping keeps the order of wall
    times (``a <= b`` gives ``utc(a) <= utc(b)``), which is what makes it safe for cursors.
    """
    earlier = wall.replace(tzinfo=zone, fold=0)
    later = wall.replace(tzinfo=zone, fold=1)
    first, second = earlier.astimezone(UTC), later.astimezone(UTC)
    if first <= second:
        # a fold (two instants: take the earlier) or an ordinary time (both the same)
        return first
    # A gap: fold=0 applied the offset before the jump, fold=1 the one after, so the
    # instants come out reversed. The jump itself lies between them.
    return _transition(zone, second, first)


def _transition(zone: tzinfo, low: datetime, high: datetime) -> datetime:
    """The first UTC instant in ``(low, high]`` whose offset in ``zone`` differs from ``low``'s."""
    before = low.astimezone(zone).utcoffset()
    step = timedelta(microseconds=1)
    while high - low > step:
        middle = low + (high - low) / 2
        if middle.astimezone(zone).utcoffset() == before:
            low = middle
        else:
            high = middle
    return high


def _parse_text(value: str) -> datetime:
    if _PLAIN.fullmatch(value):
        try:
            return datetime.fromisoformat(value)
        except ValueError:
            pass  # e.g. month 13: the general path below raises the error naming the value
    text = value.strip()
    if not text:
        raise CursorError(f"not a timestamp: {value!r} (empty)")
    if _DATE_ONLY.match(text):
        try:
            return datetime.strptime(text, "%Y-%m-%d")
        except ValueError as exc:
            raise CursorError(f"not a timestamp: {value!r} ({exc})") from None
    normalized = text.replace("t", "T").replace("z", "Z")
    if normalized.endswith(" UTC"):
        normalized = normalized[: -len(" UTC")] + "Z"
    normalized = _LONG_FRACTION.sub(r"\1", normalized)
    if "T" in normalized or " " in normalized:
        normalized = _SHORT_OFFSET.sub(r"\1:00", normalized)
    try:
        return datetime.fromisoformat(normalized)
    except ValueError:
        raise CursorError(f"not a timestamp: {value!r}") from None


def format_cursor(dt: datetime) -> str:
    """The stored form of a cursor: ``YYYY-MM-DDTHH:MM:SS.ffffffZ`` in UTC.

    Fixed width and always UTC, so stored values compare correctly even as text and a
    round trip through :func:`parse_timestamp` is lossless.
    """
    if dt.tzinfo is None or dt.utcoffset() is None:
        raise CursorError(f"cannot store a zone-less cursor: {dt.isoformat()}")
    return dt.astimezone(UTC).strftime(CURSOR_FORMAT)


class SinceOrigin(StrEnum):
    """Where a run's lower bound came from (logged and recorded in run metadata)."""

    OVERRIDE = "since_override"
    CURSOR = "delta_cursor"
    BOOTSTRAP = "lookback_days"
    EVERYTHING = "everything"


@dataclass(frozen=True, slots=True)
class ResolvedSince:
    """A run's lower bound (inclusive) and why it is that value; ``value`` None = no bound."""

    value: datetime | None
    origin: SinceOrigin

    @property
    def is_override(self) -> bool:
        return self.origin is SinceOrigin.OVERRIDE


def resolve_since(
    stored: str | datetime | None,
    override: str | datetime | None,
    *,
    lookback: timedelta = timedelta(0),
    lookback_days: int | None,
    now: datetime,
) -> ResolvedSince:
    """``since_override`` > stored cursor minus ``lookback`` > ``now - lookback_days`` > no bound.

    A ``since_override`` that is not a timestamp raises :class:`CursorError` naming the
    job parameter and the value, before any source or sink is touched. An empty string
    counts as "not set" because job-parameter forms send empty fields.
    """
    if lookback < timedelta(0):
        raise CursorError(f"lookback must not be negative, got {lookback}")
    if override is not None and not (isinstance(override, str) and not override.strip()):
        try:
            return ResolvedSince(parse_timestamp(override), SinceOrigin.OVERRIDE)
        except CursorError:
            raise CursorError(f"job parameter since_override is not a timestamp: {override!r}") from None
    if stored is not None and not (isinstance(stored, str) and not stored.strip()):
        try:
            cursor = parse_timestamp(stored)
        except CursorError:
            raise CursorError(f"stored delta cursor is not a timestamp: {stored!r}") from None
        return ResolvedSince(cursor - lookback, SinceOrigin.CURSOR)
    if lookback_days is not None:
        if lookback_days < 0:
            raise CursorError(f"lookback_days must not be negative, got {lookback_days}")
        return ResolvedSince(parse_timestamp(now) - timedelta(days=lookback_days), SinceOrigin.BOOTSTRAP)
    return ResolvedSince(None, SinceOrigin.EVERYTHING)


def next_cursor(
    stored: str | datetime | None,
    *,
    run_lower_bound: datetime | None,
    watermark: datetime | None,
    is_override: bool,
    until_override: datetime | None = None,
) -> datetime | None:
    """The cursor to commit after a successful run; returning the stored value = unchanged.

    ``watermark`` is the greatest cursor among *durably written* items. The rule:

    * nothing durable (``watermark`` None) -> unchanged;
    * a bounded backfill (``until_override`` set) -> unchanged: it covers a window, not
      "everything up to now", so it proves nothing about what lies after the window;
    * a backfill (``is_override``) whose lower bound is *after* the stored cursor ->
      unchanged: advancing would jump over the records between the two;
    * otherwise the later of stored and watermark: never backwards.

    A backfill with no stored cursor leaves it unset: the first scheduled run may reach
    further back than the backfill did (``lookback_days`` or everything), so a cursor set
    by the backfill could hide records before its lower bound.
    """
    current = parse_timestamp(stored) if isinstance(stored, str) and stored.strip() else None
    if isinstance(stored, datetime):
        current = parse_timestamp(stored)
    if watermark is None or until_override is not None:
        return current
    mark = parse_timestamp(watermark)
    if is_override and (
        current is None or run_lower_bound is None or parse_timestamp(run_lower_bound) > current
    ):
        return current
    if current is None:
        return mark
    return max(current, mark)
