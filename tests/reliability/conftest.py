"""One proof environment (sandbox Nuntiq, Connect and Codat as child processes) for the whole area.

The bad-input cases, the short soak and the secret scan share it on purpose: the scan
reads every log line and delta run the other tests produced.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.proof.env import TINY, ProofEnv


@pytest.fixture(scope="session")
def proof_env() -> Iterator[ProofEnv]:
    env = ProofEnv.start(TINY, seed=11)
    try:
        yield env
    finally:
        env.stop()
