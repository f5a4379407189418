"""The proof suites' fast parts with Connect's parallel windows forced on (``--connect-windows``).

``CONNECT_WINDOWS`` sets pages of 5 listings, so every listings read of the tiny data set
is planned as windows, four read at once. Counted from the sources' truth and Nuntiq's
own write log, as in the full suites (``make proof-windows``, which also runs the crash
suite this way): no duplicate, nothing missing, no cursor regression, no write by a run
that did not hold the lease.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.proof import overlap
from tests.proof.env import CONNECT_WINDOWS, TINY, ProofEnv
from tests.proof.soak import run_soak


@pytest.fixture
def windows_env() -> Iterator[ProofEnv]:
    env = ProofEnv.start(TINY, seed=17, connect_config=CONNECT_WINDOWS)
    try:
        yield env
    finally:
        env.stop()


@pytest.mark.timeout(120)
def test_soak_and_overlap_with_windows_forced_on(windows_env: ProofEnv) -> None:
    settings = windows_env.settings["connect_pull_suppliers"]["config"]
    assert settings["connect_page_size"] == 5 and settings["connect_parallel_windows"] == 4

    soak = run_soak(windows_env, rounds=1, seed=4)
    planned = [text for _, text in windows_env.texts() if "windows, 4 at once" in text]
    assert planned, "no listings read was planned as windows"
    assert soak.settle_failed == 0, [r.report.error for r in soak.settle_runs if not r.ok]
    assert soak.truth.mismatches == 0 and soak.truth.duplicates == 0, soak.truth.findings
    assert soak.truth.cursor_regressions == 0, soak.truth.findings
    assert soak.writers.non_holder_writes == 0, soak.writers

    rounds = overlap.run_rounds(windows_env, rounds=1, seed=6, connectors=("connect_pull_suppliers",))
    assert rounds.outcomes.counts["failed"] == 0, rounds.lines()
    assert rounds.truth.duplicates == 0 and rounds.truth.mismatches == 0, rounds.lines()
    assert rounds.writers.non_holder_writes == 0, rounds.lines()
