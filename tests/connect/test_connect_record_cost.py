"""What makes a Connect record cheaper changes no result: the pager parses each order value
once, with a ``fromisoformat`` fast path, and must agree with ``parse_timestamp`` on everything."""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from adapters.connect.paging import parse_order_value
from adapters.cursor import CursorError, parse_timestamp

fraction = st.one_of(
    st.just(""),
    st.integers(1, 9).flatmap(lambda n: st.text("0123456789", min_size=n, max_size=n).map(lambda d: "." + d)),
)
offset = st.one_of(
    st.sampled_from(["Z", "+00:00", "-00:00", "+02:00", "-05:30", "", "+02", "+0530", " UTC", "z"]),
)
separator = st.sampled_from(["T", " ", "t"])


@given(
    year=st.integers(1990, 2100),
    month=st.integers(0, 13),
    day=st.integers(1, 31),
    hour=st.integers(0, 24),
    minute=st.integers(0, 59),
    second=st.integers(0, 59),
    frac=fraction,
    off=offset,
    sep=separator,
)
def test_parse_order_value_agrees_with_parse_timestamp(
    year: int, month: int, day: int, hour: int, minute: int, second: int, frac: str, off: str, sep: str
) -> None:
    value = f"{year:04d}-{month:02d}-{day:02d}{sep}{hour:02d}:{minute:02d}:{second:02d}{frac}{off}"
    outcomes: list[Any] = []
    for parse in (parse_order_value, parse_timestamp):
        try:
            outcomes.append(parse(value))
        except CursorError:
            outcomes.append(CursorError)
    assert outcomes[0] == outcomes[1], value
    if isinstance(outcomes[0], type):
        return
    assert outcomes[0].tzinfo is not None and outcomes[0].utcoffset().total_seconds() == 0


def test_parse_order_value_takes_dates_and_datetimes_like_parse_timestamp() -> None:
    for value in ("2024-03-01", "2024-03-01T10:00:00", "  2024-03-01T10:00:00Z "):
        assert parse_order_value(value) == parse_timestamp(value)
