"""No secret in any log line, error text, delta metadata or committed cassette."""

from __future__ import annotations

import base64

from tests.proof import secretscan
from tests.proof.env import ProofEnv
from tests.proof.truth import compare


def test_scanner_finds_planted_secrets() -> None:
    key = "proof-codat-0123456789abcdef"
    basic = base64.b64encode(key.encode()).decode()
    texts = [
        ("log", f'{{"message": "calling with Basic {basic}"}}'),
        ("error", 'ApiError: {"token": "job-abc\\"def"}'),
        ("clean", "nothing to see; Authorization: <redacted>, Bearer ***"),
    ]
    hits = secretscan.scan_texts(texts, {"codat key": key, "codat basic": basic, "token": 'job-abc"def'})
    assert {(h.where, h.secret) for h in hits} == {("log", "codat basic"), ("error", "token (JSON-escaped)")}
    shapes = secretscan.scan_shapes(
        [("cassette", "authorization: ApiKey SU-123-456-789:live-key-value"), ("clean", "Bearer ***")]
    )
    assert [h.where for h in shapes] == ["cassette"]


def test_committed_cassettes_hold_no_secret() -> None:
    count, hits = secretscan.scan_cassettes()
    assert count > 0
    assert hits == [], [str(h) for h in hits]


def test_no_secret_in_logs_errors_or_delta_metadata(proof_env: ProofEnv) -> None:
    # Runs after the bad-input cases and the soak (file order), which have filled the logs.
    proof_env.clear_faults()
    truth = compare(proof_env)
    texts = list(proof_env.texts()) + truth.delta_texts
    assert proof_env.runs, "no connector ran in this environment"
    hits = secretscan.scan_texts(texts, proof_env.secret_values) + secretscan.scan_shapes(texts)
    assert hits == [], [str(h) for h in hits]
