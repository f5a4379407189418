"""The fast part of ``make overlap``: overlapping runs, and reconciles on a Nuntiq a day behind.

Counted from the sources' truth and Nuntiq's own write log, as in the full suite: no
duplicate, nothing missing, no cursor regression, no write by a run that did not hold
the lease at that instant.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.proof import overlap
from tests.proof.env import TINY, ProofEnv

CONNECTORS = ("connect_pull_suppliers", "acme_pull_suppliers", "connect_pull_billing_documents")


@pytest.fixture
def overlap_env() -> Iterator[ProofEnv]:
    env = ProofEnv.start(TINY, seed=5)
    try:
        yield env
    finally:
        env.stop()


@pytest.mark.timeout(120)
def test_overlapping_runs_write_once_and_only_while_holding_the_lease(overlap_env: ProofEnv) -> None:
    result = overlap.run_rounds(overlap_env, rounds=2, seed=5, connectors=CONNECTORS)
    assert result.outcomes.counts["busy"] > 0, "the runs never overlapped"
    assert result.outcomes.counts["failed"] == 0, result.lines()
    assert result.truth.duplicates == 0 and result.truth.mismatches == 0, result.lines()
    assert result.truth.cursor_regressions == 0, result.lines()
    assert result.writers.data_writes > 0 and result.writers.non_holder_writes == 0, result.lines()


@pytest.mark.timeout(120)
def test_reconciles_against_a_nuntiq_clock_a_day_behind() -> None:
    (result,) = overlap.clock_skew(
        TINY, 5, skews=(("-1 day", -86400),),
        connectors=("connect_pull_billing_documents",),
        slow_upload_rate=1.0,
    )
    assert result.truth.clean, result.lines()
    assert result.writers.non_holder_writes == 0, result.lines()
    assert "reconciled after a timeout: 0" not in result.notes[0], "no upload was reconciled"
