"""50,000 listings in one tie group, end to end (``make ties-connect``; prints its figures)."""

from __future__ import annotations

from sandbox.server import RunningServer
from tests.connect.tie_runs import run_tie_group


def test_fifty_thousand_tied_listings(connect_server: RunningServer, nuntiq: RunningServer) -> None:
    run = run_tie_group(connect_server, nuntiq, 50_000, cap=700)
    print(
        f"\n50,000 tied listings, pages capped at 700, {run.moved} moved mid-paging: "
        f"first run {run.first_seconds:.1f} s / {run.first_requests} list requests; "
        f"next run {run.second_seconds:.1f} s / {run.second_requests} list requests / "
        f"{run.second_items} items re-read; longest request target {run.longest_target} bytes"
    )
    assert run.moved >= 4_000
    assert run.longest_target <= 4096
    assert run.second_items >= 50_000 - run.moved
