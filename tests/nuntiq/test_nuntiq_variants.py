"""Every shipped connector across the Nuntiq sandbox's variants of what nobody has confirmed.

The variants (:mod:`sandbox.nuntiq.variants`) are the shapes of the custom-data and
source-document endpoints: the list form and its paging, the page-size cap, whether
``key_prefix`` filters, what an upsert and an upload answer, how ``created_after``
bounds and how the document listing is ordered. Under each, the four connectors must
land everything exactly once, write nothing on an idle rerun, and keep their cursors.

``make test`` runs two combinations drawn from a seed that changes every day (shown in
the test id; ``NUNTIQ_VARIANT_SEED=N`` repeats a draw, ``NUNTIQ_VARIANT_COUNT=N`` draws
more). ``make variants-nuntiq`` runs every option's values one at a time and then the
full cross product (``tests/nuntiq/long_variants.py``).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import date

import pytest

from sandbox.nuntiq.variants import Variants, shape_sample
from sandbox.proof.env import TINY, ProofEnv
from tests.nuntiq.variant_runs import VariantRunner

SEED = int(os.environ.get("NUNTIQ_VARIANT_SEED", date.today().toordinal()))
COUNT = int(os.environ.get("NUNTIQ_VARIANT_COUNT", "2"))
DRAWN = shape_sample(SEED, COUNT)


@pytest.fixture(scope="module")
def runner() -> Iterator[VariantRunner]:
    env = ProofEnv.start(TINY, seed=23)
    try:
        yield VariantRunner(env)
    finally:
        env.stop()


@pytest.mark.parametrize("variants", DRAWN, ids=[f"seed{SEED}-{v.label()}" for v in DRAWN])
def test_connectors_under_drawn_nuntiq_shapes(runner: VariantRunner, variants: Variants) -> None:
    runner.check(variants)
