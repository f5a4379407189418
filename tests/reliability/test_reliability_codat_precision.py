"""Codat lists ``uploaded`` with and without fractions (and zone-less): a later upload listed at
whole-second precision can read as *before* the millisecond cursor of a file from the same second.
The pull must still deliver it.
"""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta

import httpx

from sandbox.proof.env import CODAT_SMALL_COMPANY, ProofEnv, short_retries
from sandbox.proof.truth import compare


def _add(env: ProofEnv, name: str, uploaded: str) -> None:
    body = {
        "fileName": name,
        "uploaded": uploaded,
        "sourceType": "Banking",
        "content_b64": base64.b64encode(f"{name} {uploaded}".encode()).decode(),
    }
    url = f"{env.codat.url}/_sandbox/codat/companies/{CODAT_SMALL_COMPANY}/files"
    httpx.post(url, json=body, timeout=30).raise_for_status()


def test_whole_second_upload_after_a_millisecond_cursor_is_pulled(proof_env: ProofEnv) -> None:
    second = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=30)
    _add(proof_env, "precise.pdf", second.strftime("%Y-%m-%dT%H:%M:%S") + ".900Z")
    with short_retries():
        first = proof_env.run("codat_pull_files")
        assert first.ok, first.report.error
        # uploaded later in the same second; Codat lists it without a fraction (and zone-less)
        _add(proof_env, "coarse.pdf", second.strftime("%Y-%m-%dT%H:%M:%S"))
        second_run = proof_env.run("codat_pull_files")
    assert second_run.ok, second_run.report.error
    truth = compare(proof_env, ["codat_pull_files"])
    assert truth.mismatches == 0, [str(f) for f in truth.findings]
