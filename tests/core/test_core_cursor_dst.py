"""Zone-less local times across DST: a fold reads as its earlier instant, a gap as the jump.

The property that matters for cursors is order: if wall time ``a`` is not after wall
time ``b`` then ``parse(a)`` is not after ``parse(b)``, so a cursor taken from one local
time never passes a file stamped with a later one. The European zones below have both
a spring gap and an autumn fold every year.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from adapters.cursor import local_to_utc, parse_timestamp

ZONES = [ZoneInfo(name) for name in ("Europe/Berlin", "Europe/London", "Europe/Helsinki", "Europe/Lisbon")]
BERLIN = ZoneInfo("Europe/Berlin")

# wall times around the 2026 transitions (and everything in between)
walls = st.datetimes(min_value=datetime(2025, 1, 1), max_value=datetime(2027, 12, 31))
near_transitions = st.sampled_from(
    [datetime(2026, 3, 29, 0, 0), datetime(2026, 10, 25, 0, 0), datetime(2026, 3, 29, 2, 0)]
).flatmap(lambda base: st.integers(0, 4 * 3600 * 1000).map(lambda ms: base + timedelta(milliseconds=ms)))


def test_fold_reads_as_the_earlier_instant() -> None:
    # 02:30 happens twice in Berlin on 2026-10-25: at 00:30Z (CEST) and 01:30Z (CET)
    assert parse_timestamp("2026-10-25T02:30:00", default_tz=BERLIN) == datetime(
        2026, 10, 25, 0, 30, tzinfo=UTC
    )
    assert parse_timestamp("2026-10-25T02:59:59.999", default_tz=BERLIN) == datetime(
        2026, 10, 25, 0, 59, 59, 999000, tzinfo=UTC
    )
    # the first wall time after the fold is after every instant of the fold
    assert parse_timestamp("2026-10-25T03:00:00", default_tz=BERLIN) == datetime(
        2026, 10, 25, 2, 0, tzinfo=UTC
    )


def test_gap_reads_as_the_first_instant_after_it() -> None:
    # 02:00-02:59 does not exist in Berlin on 2026-03-29; clocks jump at 01:00Z
    jump = datetime(2026, 3, 29, 1, 0, tzinfo=UTC)
    for wall in ("2026-03-29T02:00:00", "2026-03-29T02:30:00", "2026-03-29T02:59:59.999999"):
        assert parse_timestamp(wall, default_tz=BERLIN) == jump, wall
    assert parse_timestamp("2026-03-29T03:00:00", default_tz=BERLIN) == jump
    assert parse_timestamp("2026-03-29T01:59:59", default_tz=BERLIN) == jump - timedelta(seconds=1)


def test_a_cursor_in_the_gap_or_fold_skips_no_later_file() -> None:
    """Files stamped after a cursor's wall time are all at or after the cursor's instant."""
    for zone in ZONES:
        for start in (datetime(2026, 3, 29, 0, 0), datetime(2026, 10, 25, 0, 0)):
            stamps = [start + timedelta(minutes=m) for m in range(0, 5 * 60, 7)]
            for i, cursor_wall in enumerate(stamps):
                cursor = local_to_utc(cursor_wall, zone)
                kept = {w for w in stamps if local_to_utc(w, zone) >= cursor}
                assert set(stamps[i:]) <= kept, (zone, cursor_wall)


@settings(max_examples=300, deadline=None)
@given(
    a=st.one_of(walls, near_transitions), b=st.one_of(walls, near_transitions), zone=st.sampled_from(ZONES)
)
def test_wall_time_order_is_kept(a: datetime, b: datetime, zone: ZoneInfo) -> None:
    low, high = sorted((a, b))
    assert local_to_utc(low, zone) <= local_to_utc(high, zone)


@settings(max_examples=300, deadline=None)
@given(wall=st.one_of(walls, near_transitions), zone=st.sampled_from(ZONES))
def test_existing_times_round_trip_and_gap_times_move_forward(wall: datetime, zone: ZoneInfo) -> None:
    instant = local_to_utc(wall, zone)
    back = instant.astimezone(zone).replace(tzinfo=None)
    if back == wall:
        # an existing wall time: no earlier instant shows the same wall time
        earlier = instant - timedelta(hours=1)
        assert earlier.astimezone(zone).replace(tzinfo=None) != wall or earlier == instant
    else:
        # only a gap time may not round-trip, and then it moves forward, to the jump
        assert back > wall
        assert back - wall <= timedelta(hours=1)
        assert (instant - timedelta(microseconds=1)).astimezone(zone).utcoffset() != instant.astimezone(
            zone
        ).utcoffset()


@pytest.mark.parametrize("value", ["2026-03-29T02:30:00Z", "2026-03-29T02:30:00+01:00"])
def test_values_with_a_zone_are_untouched(value: str) -> None:
    assert parse_timestamp(value, default_tz=BERLIN) == datetime.fromisoformat(value.replace("Z", "+00:00"))
