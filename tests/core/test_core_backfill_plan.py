"""The backfill planner: windows that cover a history without a gap, and the CLI that prints them."""

from __future__ import annotations

import itertools
import json
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from adapters.backfill import BackfillPlanError, Window, backfill_scope, plan_windows
from adapters.cursor import parse_timestamp
from lib.cli.main import main

T0 = datetime(2024, 1, 1, tzinfo=UTC)


def covers_without_gap(windows: list[Window], since: datetime, until: datetime) -> bool:
    """First starts at since, last ends at until, each starts where the one before ended."""
    joined = all(a.until == b.since for a, b in itertools.pairwise(windows))
    return windows[0].since == since and windows[-1].until == until and joined


@given(
    span=st.timedeltas(min_value=timedelta(seconds=1), max_value=timedelta(days=4000)),
    count=st.integers(min_value=1, max_value=500),
)
def test_n_windows_cover_the_history_in_order(span: timedelta, count: int) -> None:
    windows = plan_windows(T0, T0 + span, windows=count)
    assert len(windows) == count
    assert covers_without_gap(windows, T0, T0 + span)
    assert all(w.since < w.until for w in windows)


@given(
    span=st.timedeltas(min_value=timedelta(hours=1), max_value=timedelta(days=2000)),
    days=st.floats(min_value=0.5, max_value=400),
)
def test_windows_of_d_days_leave_only_the_last_one_shorter(span: timedelta, days: float) -> None:
    windows = plan_windows(T0, T0 + span, window_days=days)
    assert covers_without_gap(windows, T0, T0 + span)
    step = timedelta(days=days)
    assert all(w.until - w.since == step for w in windows[:-1])
    assert timedelta(0) < windows[-1].until - windows[-1].since <= step


def test_each_window_has_its_own_lease_scope_and_job_params() -> None:
    windows = plan_windows("2024-01-01", "2024-03-01T00:00:00+02:00", windows=3)
    scopes = {w.lease_scope for w in windows}
    assert len(scopes) == 3 and "scheduled" not in scopes
    first = windows[0].params()
    assert set(first) == {"since_override", "until_override"}
    assert parse_timestamp(first["since_override"]) == T0
    assert parse_timestamp(windows[-1].params()["until_override"]) == datetime(2024, 2, 29, 22, tzinfo=UTC)
    assert backfill_scope(T0, T0 + timedelta(days=1)) == "backfill-20240101T000000Z-20240102T000000Z"


@pytest.mark.parametrize(
    ("since", "until", "sizes", "message"),
    [
        ("2024-02-01", "2024-01-01", {"windows": 2}, "must be after --since"),
        ("2024-01-01", "2024-02-01", {}, "exactly one of"),
        ("2024-01-01", "2024-02-01", {"windows": 2, "window_days": 3}, "exactly one of"),
        ("2024-01-01", "2024-02-01", {"windows": 0}, "at least 1"),
        ("2024-01-01", "2024-02-01", {"window_days": -1}, "must be positive"),
        ("2000-01-01", "2024-02-01", {"window_days": 0.0001}, "at most 10000"),
    ],
)
def test_impossible_plans_are_refused_naming_the_problem(
    since: str, until: str, sizes: dict[str, float], message: str
) -> None:
    with pytest.raises(BackfillPlanError, match=message):
        plan_windows(since, until, **sizes)  # type: ignore[arg-type]


def test_cli_prints_one_job_per_window_as_json(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["backfill", "plan", "connect_pull_billing_documents", "--since", "2024-01-01",
                 "--until", "2024-01-31", "--window-days", "7", "--json"])  # fmt: skip
    assert code == 0
    plan = json.loads(capsys.readouterr().out)
    jobs = plan["jobs"]
    assert [job["window"] for job in jobs] == [1, 2, 3, 4, 5]
    assert jobs[0]["params"]["since_override"].startswith("2024-01-01T00:00:00")
    assert jobs[-1]["params"]["until_override"].startswith("2024-01-31T00:00:00")
    assert "--param" in jobs[0]["command"] and len({job["lease_scope"] for job in jobs}) == 5


def test_cli_refuses_a_reversed_history_and_an_unknown_connector(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["backfill", "plan", "connect_pull_suppliers", "--since", "2024-02-01",
                 "--until", "2024-01-01", "--windows", "2"]) == 2  # fmt: skip
    assert "must be after --since" in capsys.readouterr().err
    assert main(["backfill", "plan", "no_such_connector", "--since", "2024-01-01",
                 "--until", "2024-02-01", "--windows", "2"]) == 2  # fmt: skip
    assert "no_such_connector" in capsys.readouterr().err
