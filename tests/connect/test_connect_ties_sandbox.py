"""A 3,000-listing tie group end to end (50,000: ``make ties-connect``)."""

from __future__ import annotations

from sandbox.server import RunningServer
from tests.connect.tie_runs import run_tie_group


def test_a_bulk_stamped_tie_group_is_read_whole_with_short_requests(
    connect_server: RunningServer, nuntiq: RunningServer
) -> None:
    run = run_tie_group(connect_server, nuntiq, 3_000, cap=300)
    assert run.moved >= 300, "about 10% of the group moved while it was paged"
    assert run.longest_target <= 4096
    assert run.second_items >= 3_000 - run.moved, "the next run re-reads the group and succeeds"
