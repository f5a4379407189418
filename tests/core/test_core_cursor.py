"""Timestamp parsing, cursor formatting, since resolution and the commit rule."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from adapters.cursor import (
    CursorError,
    SinceOrigin,
    format_cursor,
    next_cursor,
    parse_timestamp,
    resolve_since,
)

NOW = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
CET = timezone(timedelta(hours=1))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2024-05-01T10:00:00Z", datetime(2024, 5, 1, 10, tzinfo=UTC)),
        ("2024-05-01T10:00:00+00:00", datetime(2024, 5, 1, 10, tzinfo=UTC)),
        ("2024-05-01T12:00:00+02:00", datetime(2024, 5, 1, 10, tzinfo=UTC)),
        ("2024-05-01T05:30:00-04:30", datetime(2024, 5, 1, 10, tzinfo=UTC)),
        ("2024-05-01T12:00:00+0200", datetime(2024, 5, 1, 10, tzinfo=UTC)),
        ("2024-05-01T12:00:00+02", datetime(2024, 5, 1, 10, tzinfo=UTC)),
        ("2024-05-01 10:00:00", datetime(2024, 5, 1, 10, tzinfo=UTC)),
        ("2024-05-01t10:00:00z", datetime(2024, 5, 1, 10, tzinfo=UTC)),
        ("2024-05-01T10:00:00.5Z", datetime(2024, 5, 1, 10, 0, 0, 500000, tzinfo=UTC)),
        ("2024-05-01T10:00:00.123Z", datetime(2024, 5, 1, 10, 0, 0, 123000, tzinfo=UTC)),
        ("2024-05-01T10:00:00.123456Z", datetime(2024, 5, 1, 10, 0, 0, 123456, tzinfo=UTC)),
        # nanoseconds are truncated, never rounded into the next second
        ("2024-05-01T10:00:00.999999999Z", datetime(2024, 5, 1, 10, 0, 0, 999999, tzinfo=UTC)),
        ("2024-05-01", datetime(2024, 5, 1, tzinfo=UTC)),
        ("  2024-05-01T10:00:00Z  ", datetime(2024, 5, 1, 10, tzinfo=UTC)),
        ("2024-05-01 10:00:00 UTC", datetime(2024, 5, 1, 10, tzinfo=UTC)),
    ],
)
def test_parse_timestamp_formats(text: str, expected: datetime) -> None:
    parsed = parse_timestamp(text)
    assert parsed == expected
    assert parsed.utcoffset() == timedelta(0)


def test_zone_less_values_use_default_tz() -> None:
    assert parse_timestamp("2024-05-01T11:00:00", default_tz=CET) == datetime(2024, 5, 1, 10, tzinfo=UTC)
    assert parse_timestamp("2024-05-01", default_tz=CET) == datetime(2024, 4, 30, 23, tzinfo=UTC)
    # an explicit offset wins over the default
    assert parse_timestamp("2024-05-01T10:00:00Z", default_tz=CET) == datetime(2024, 5, 1, 10, tzinfo=UTC)


def test_parse_datetime_and_date_objects() -> None:
    assert parse_timestamp(datetime(2024, 5, 1, 10)) == datetime(2024, 5, 1, 10, tzinfo=UTC)
    assert parse_timestamp(datetime(2024, 5, 1, 11, tzinfo=CET)).tzinfo == UTC
    assert parse_timestamp(date(2024, 5, 1)) == datetime(2024, 5, 1, tzinfo=UTC)


@pytest.mark.parametrize(
    "bad", ["", "   ", "yesterday", "2024-13-01", "2024-02-30", "12:00", "2024-05-01T25:00Z"]
)
def test_garbage_raises_naming_the_value(bad: str) -> None:
    with pytest.raises(CursorError) as caught:
        parse_timestamp(bad)
    assert repr(bad) in str(caught.value)
    assert isinstance(caught.value, ValueError)


def test_non_string_garbage_raises() -> None:
    with pytest.raises(CursorError, match="int"):
        parse_timestamp(12345)  # type: ignore[arg-type]


def test_string_order_differs_but_datetime_order_is_right() -> None:
    a, b = "2024-05-01T10:00:00.5Z", "2024-05-01T10:00:00.49Z"
    assert a > b and parse_timestamp(a) > parse_timestamp(b)
    c, d = "2024-05-01T10:00:00Z", "2024-05-01T10:00:00+00:00"
    assert c != d and parse_timestamp(c) == parse_timestamp(d)


def test_format_cursor_is_fixed_width_utc() -> None:
    assert format_cursor(datetime(2024, 5, 1, 12, tzinfo=CET)) == "2024-05-01T11:00:00.000000Z"
    assert format_cursor(datetime(2024, 5, 1, 10, 0, 0, 5, tzinfo=UTC)) == "2024-05-01T10:00:00.000005Z"
    with pytest.raises(CursorError, match="zone-less"):
        format_cursor(datetime(2024, 5, 1))


moments = st.datetimes(min_value=datetime(1971, 1, 1), max_value=datetime(2200, 1, 1), timezones=st.just(UTC))


@given(moments, moments)
def test_format_round_trips_and_sorts_like_time(a: datetime, b: datetime) -> None:
    assert parse_timestamp(format_cursor(a)) == a
    assert (format_cursor(a) < format_cursor(b)) == (a < b)
    assert len(format_cursor(a)) == len(format_cursor(b))


# -- since resolution ------------------------------------------------------------------------


def test_override_beats_stored_and_bootstrap() -> None:
    got = resolve_since(
        "2026-03-01T00:00:00Z", "2025-01-01", lookback=timedelta(hours=1), lookback_days=7, now=NOW
    )
    assert got.value == datetime(2025, 1, 1, tzinfo=UTC)
    assert got.origin is SinceOrigin.OVERRIDE and got.is_override


def test_stored_minus_lookback() -> None:
    got = resolve_since(
        "2026-03-01T00:00:00Z", None, lookback=timedelta(minutes=10), lookback_days=7, now=NOW
    )
    assert got.value == datetime(2026, 2, 28, 23, 50, tzinfo=UTC)
    assert got.origin is SinceOrigin.CURSOR and not got.is_override


def test_bootstrap_and_everything() -> None:
    got = resolve_since(None, None, lookback_days=7, now=NOW)
    assert got.value == NOW - timedelta(days=7) and got.origin is SinceOrigin.BOOTSTRAP
    got = resolve_since(None, "", lookback_days=None, now=NOW)
    assert got.value is None and got.origin is SinceOrigin.EVERYTHING


def test_bad_override_names_parameter_and_value() -> None:
    with pytest.raises(CursorError, match=r"since_override.*'last tuesday'"):
        resolve_since(None, "last tuesday", lookback_days=7, now=NOW)


def test_bad_stored_cursor_is_reported() -> None:
    with pytest.raises(CursorError, match="stored delta cursor"):
        resolve_since("garbage", None, lookback_days=7, now=NOW)


def test_negative_lookbacks_rejected() -> None:
    with pytest.raises(CursorError):
        resolve_since(None, None, lookback=timedelta(seconds=-1), lookback_days=7, now=NOW)
    with pytest.raises(CursorError):
        resolve_since(None, None, lookback_days=-1, now=NOW)


# -- commit rule -----------------------------------------------------------------------------

S = "2026-03-01T00:00:00.000000Z"
S_DT = parse_timestamp(S)


def test_normal_run_advances_and_never_goes_back() -> None:
    later, earlier = S_DT + timedelta(hours=1), S_DT - timedelta(hours=1)
    kw = {"run_lower_bound": S_DT - timedelta(minutes=5), "is_override": False}
    assert next_cursor(S, watermark=later, **kw) == later  # type: ignore[arg-type]
    assert next_cursor(S, watermark=earlier, **kw) == S_DT  # type: ignore[arg-type]
    assert next_cursor(S, watermark=None, **kw) == S_DT  # type: ignore[arg-type]
    assert next_cursor(None, watermark=None, **kw) is None  # type: ignore[arg-type]
    assert next_cursor(None, watermark=later, **kw) == later  # type: ignore[arg-type]


def test_backfill_from_before_cursor_may_advance() -> None:
    later = S_DT + timedelta(hours=1)
    got = next_cursor(S, run_lower_bound=S_DT - timedelta(days=30), watermark=later, is_override=True)
    assert got == later
    got = next_cursor(S, run_lower_bound=S_DT, watermark=later, is_override=True)  # "at" counts
    assert got == later


def test_backfill_without_stored_cursor_leaves_it_unset() -> None:
    got = next_cursor(None, run_lower_bound=S_DT, watermark=S_DT + timedelta(days=1), is_override=True)
    assert got is None


def test_backfill_from_after_cursor_leaves_it() -> None:
    got = next_cursor(
        S, run_lower_bound=S_DT + timedelta(seconds=1), watermark=S_DT + timedelta(days=1), is_override=True
    )
    assert got == S_DT


def test_bounded_backfill_never_touches_it() -> None:
    for stored in (S, None):
        got = next_cursor(
            stored,
            run_lower_bound=S_DT - timedelta(days=30),
            watermark=S_DT + timedelta(days=1),
            is_override=True,
            until_override=S_DT + timedelta(days=2),
        )
        assert got == (S_DT if stored else None)


def test_commit_compares_datetimes_not_strings() -> None:
    # as text "...00.5Z" > "...00.49+00:00" and "Z" > "+": datetimes decide
    stored = "2026-03-01T00:00:00.5Z"
    got = next_cursor(
        stored,
        run_lower_bound=None,
        watermark=parse_timestamp("2026-03-01T00:00:00.49+00:00"),
        is_override=False,
    )
    assert got == parse_timestamp(stored)
    got = next_cursor("2026-03-01T01:00:00+01:00", run_lower_bound=None, watermark=S_DT, is_override=False)
    assert got == S_DT
