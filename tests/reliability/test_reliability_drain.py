"""Budgets, checkpoints and backfill windows against the sandboxes (also part of ``make overlap``).

Each test gets a fresh environment, because each needs a backlog nobody has read yet.
Every figure is counted from the sources' truth and Nuntiq's own write log.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.proof import drain
from tests.proof.env import ProofEnv


@pytest.fixture
def env() -> Iterator[ProofEnv]:
    started = ProofEnv.start(drain.DRAIN_SIZES, seed=7)
    try:
        yield started
    finally:
        started.stop()


@pytest.mark.timeout(120)
@pytest.mark.parametrize("connector", ["connect_pull_suppliers", "codat_pull_files"])
def test_backlog_of_three_budgets_drains_in_three_scheduled_runs(env: ProofEnv, connector: str) -> None:
    # a loaded test machine may need one run more; make overlap holds it to exactly three
    result = drain.three_budgets(env, connector, runs_allowed=(3, 4))
    assert result.ok, result.lines()
    assert result.outcomes.counts["completed"] == 1, result.lines()
    assert result.outcomes.counts["partial"] in (2, 3), result.lines()
    assert result.truth.duplicates == 0 and result.truth.mismatches == 0, result.lines()


@pytest.mark.timeout(120)
def test_codat_pull_killed_mid_backlog_repeats_at_most_one_day(env: ProofEnv) -> None:
    result = drain.codat_killed_mid_backlog(env)
    assert result.ok, result.lines()
    assert result.truth.clean and result.writers.non_holder_writes == 0, result.lines()


@pytest.mark.timeout(120)
@pytest.mark.parametrize("connector", drain.BACKFILL_CONNECTORS)
def test_backfill_windows_beside_the_scheduled_job_find_what_one_sequential_run_finds(
    env: ProofEnv, connector: str
) -> None:
    result = drain.backfill_windows(env, connector)
    assert result.ok, result.lines()
    assert result.outcomes.counts["failed"] == 0, result.lines()
