"""The fast path of ``parse_timestamp`` (added for 100,000-record syncs) changes no result.

A leading space makes a value miss the fast path, so the general path parses the same
text: both must agree on every plain ISO timestamp, and on near-misses (bad months,
seven-digit fractions, short offsets) which take the general path anyway.
"""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from adapters.cursor import CursorError, parse_timestamp

fraction = st.one_of(
    st.just(""),
    st.integers(1, 7).flatmap(lambda n: st.text("0123456789", min_size=n, max_size=n).map(lambda d: "." + d)),
)
offset = st.one_of(
    st.just("Z"),
    st.tuples(st.sampled_from("+-"), st.integers(0, 23), st.integers(0, 59)).map(
        lambda t: f"{t[0]}{t[1]:02d}:{t[2]:02d}"
    ),
    st.sampled_from(["+02", "+0530", ""]),
)


@given(
    year=st.integers(1990, 2100),
    month=st.integers(0, 13),
    day=st.integers(1, 31),
    hour=st.integers(0, 24),
    minute=st.integers(0, 59),
    second=st.integers(0, 59),
    frac=fraction,
    off=offset,
)
def test_fast_path_agrees_with_general_path(
    year: int, month: int, day: int, hour: int, minute: int, second: int, frac: str, off: str
) -> None:
    value = f"{year:04d}-{month:02d}-{day:02d}T{hour:02d}:{minute:02d}:{second:02d}{frac}{off}"
    try:
        fast = parse_timestamp(value)
    except CursorError:
        fast = None
    try:
        general = parse_timestamp(" " + value)
    except CursorError:
        general = None
    assert fast == general
    if fast is not None:
        assert fast.utcoffset() is not None and fast.utcoffset().total_seconds() == 0


def test_fast_path_error_names_the_value() -> None:
    try:
        parse_timestamp("2024-13-01T00:00:00Z")
    except CursorError as exc:
        assert "2024-13-01T00:00:00Z" in str(exc)
    else:
        raise AssertionError("month 13 was accepted")
