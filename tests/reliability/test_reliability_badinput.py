"""Every bad-input case: a clear error naming the problem, the cursor kept, a rerun repairs."""

from __future__ import annotations

import random

import pytest

from tests.proof import badinput
from tests.proof.changes import SourceChanger
from tests.proof.env import ProofEnv


@pytest.fixture(scope="module")
def prepared(proof_env: ProofEnv) -> SourceChanger:
    badinput.prepare(proof_env)
    return SourceChanger(proof_env, random.Random(5))


@pytest.mark.timeout(60)
@pytest.mark.parametrize("case", badinput.CASES, ids=[f"{c.connector}: {c.name}" for c in badinput.CASES])
def test_bad_input_case(proof_env: ProofEnv, prepared: SourceChanger, case: badinput.Case) -> None:
    result = badinput.run_case(proof_env, case, prepared)
    assert result.passed_outcome, f"{result.outcome}: {result.error}"
    if case.kind == "error":
        assert result.cursor_unchanged, "a failed run moved the stored cursor"
    assert result.repaired, result.repair_detail


def test_table_lists_every_case() -> None:
    results = [
        badinput.CaseResult(c.name, c.connector, c.kind, "x", True, "err", None, True) for c in badinput.CASES
    ]
    table = badinput.format_table(results)
    assert all(c.name in table for c in badinput.CASES)
    assert "cursor unchanged" in table.splitlines()[0]
