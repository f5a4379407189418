"""Every write to Nuntiq a connector makes is retried under the shared policy."""

from __future__ import annotations

from tests.proof.env import ProofEnv
from tests.proof.truth import compare


def test_supplier_save_is_retried_after_a_503(proof_env: ProofEnv) -> None:
    proof_env.nuntiq.set_faults(script=[503], path_pattern=r"^/v1/supplier$", retry_after=0)
    try:
        record = proof_env.run("connect_pull_suppliers")
    finally:
        proof_env.clear_faults()
    assert record.ok, record.report.error
    assert record.retries == 1
    truth = compare(proof_env, ["connect_pull_suppliers"])
    assert truth.mismatches == 0 and truth.duplicates == 0, truth.findings
