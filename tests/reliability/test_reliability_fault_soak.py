"""A short soak: four scheduled rounds with ~10% failed requests on every service and poisoned records."""

from __future__ import annotations

import pytest

from tests.proof.env import CONNECTORS, ProofEnv
from tests.proof.soak import run_soak


@pytest.mark.timeout(110)
def test_short_soak_has_no_mismatch_duplicate_or_cursor_regression(proof_env: ProofEnv) -> None:
    result = run_soak(proof_env, rounds=4, seed=3)
    assert len(result.runs) == 4 * len(CONNECTORS)
    assert result.faults > 0, "the fault plan injected nothing"
    assert result.settle_failed == 0, [r.report.error for r in result.settle_runs if not r.ok]
    assert result.truth.mismatches == 0, result.truth.findings
    assert result.truth.duplicates == 0, result.truth.findings
    assert result.truth.cursor_regressions == 0, result.truth.findings
    assert len(result.overlapping) == 4  # one manual run beside a scheduled one per round
    assert result.writers.data_writes > 0 and result.writers.non_holder_writes == 0, result.writers
    assert result.truth.checked["billing files"] > 0 and result.truth.checked["pushed to codat"] > 0
    # one poisoned item per Connect stream: quarantined while bad, landed and released once cured
    assert {c: len(k) for c, k in result.poison_planted.items()} == {
        "connect_pull_suppliers": 1,
        "connect_pull_billing_documents": 1,
    }
    assert result.poison_quarantined == result.poison_planted, result.poison_quarantined
    assert result.poison_lost == 0, result.poison_still_held
