"""Codat lists ``uploaded`` with and without fractions (and zone-less): a later upload listed at
whole-second precision can read as *before* the millisecond cursor of a file from the same second.
The pull must still deliver it.
"""

from __future__ import annotations

import base64
import copy
from datetime import UTC, datetime, timedelta

import httpx

from tests.proof.env import ProofEnv
from tests.proof.truth import NuntiqView, TruthReport, check_codat_company

#: a company of its own, so the future-dated files below do not move the shared streams' cursors
COMPANY = "c0dac0de-0000-4000-8000-000000000001"


def _add(env: ProofEnv, name: str, uploaded: str) -> None:
    body = {
        "fileName": name,
        "uploaded": uploaded,
        "sourceType": "Banking",
        "content_b64": base64.b64encode(f"{name} {uploaded}".encode()).decode(),
    }
    url = f"{env.codat.url}/_sandbox/codat/companies/{COMPANY}/files"
    httpx.post(url, json=body, timeout=30).raise_for_status()


def test_whole_second_upload_after_a_millisecond_cursor_is_pulled(proof_env: ProofEnv) -> None:
    settings = copy.deepcopy(proof_env.settings["codat_pull_files"])
    settings["config"]["codat"]["company_ids"] = [COMPANY]
    second = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=30)
    _add(proof_env, "precise.pdf", second.strftime("%Y-%m-%dT%H:%M:%S") + ".900Z")
    first = proof_env.run("codat_pull_files", settings=settings)
    assert first.ok, first.report.error
    # uploaded later in the same second; Codat lists it without a fraction (and zone-less)
    _add(proof_env, "coarse.pdf", second.strftime("%Y-%m-%dT%H:%M:%S"))
    again = proof_env.run("codat_pull_files", settings=settings)
    assert again.ok, again.report.error
    report = TruthReport()
    api = proof_env.api()
    try:
        check_codat_company(report, proof_env, NuntiqView.read(api), COMPANY)
    finally:
        api.close()
    assert report.checked[f"codat files {COMPANY[:8]}"] == 2
    assert report.findings == [], [str(f) for f in report.findings]
