"""A proof environment (sandbox Nuntiq, Connect and Codat as child processes) per test module."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from sandbox.proof.env import TINY, ProofEnv


@pytest.fixture(scope="module")
def proof_env() -> Iterator[ProofEnv]:
    env = ProofEnv.start(TINY, seed=11)
    try:
        yield env
    finally:
        env.stop()
