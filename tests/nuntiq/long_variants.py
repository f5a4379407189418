"""Every Nuntiq shape variant one at a time, then the full cross product (``make variants-nuntiq``).

Not collected by ``make test`` (the file name does not start with ``test_``). All four
shipped connectors run under each combination; see :mod:`tests.nuntiq.variant_runs`.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from sandbox.nuntiq.variants import Variants, shape_cross_product
from tests.nuntiq.variant_runs import VariantRunner, one_at_a_time
from tests.proof.env import TINY, ProofEnv

SINGLE = one_at_a_time()
COMBINATIONS = shape_cross_product()


@pytest.fixture(scope="module")
def runner() -> Iterator[VariantRunner]:
    env = ProofEnv.start(TINY, seed=29)
    try:
        yield VariantRunner(env)
    finally:
        env.stop()


@pytest.mark.parametrize("variants", SINGLE, ids=[v.label() for v in SINGLE])
def test_connectors_under_each_nuntiq_shape(runner: VariantRunner, variants: Variants) -> None:
    runner.check(variants)


@pytest.mark.parametrize("variants", COMBINATIONS, ids=[v.label() for v in COMBINATIONS])
def test_connectors_under_every_nuntiq_shape_combination(runner: VariantRunner, variants: Variants) -> None:
    runner.check(variants)
