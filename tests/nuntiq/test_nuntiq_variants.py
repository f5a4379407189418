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
import time
from collections.abc import Iterator
from datetime import date

import pytest

from sandbox.nuntiq.variants import Variants, shape_sample
from tests.nuntiq.variant_runs import WRITES, VariantRunner
from tests.proof.env import CONNECTORS, TINY, ProofEnv

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


def test_custom_data_at_another_path_fails_every_connector_at_once_naming_the_path(
    runner: VariantRunner,
) -> None:
    env = runner.env
    before = env.counters()
    env.set_variants(paths="custom_data_tables")
    try:
        for connector in CONNECTORS:
            started = time.monotonic()
            record = env.run(connector, label="moved custom data")
            assert not record.ok, f"{connector} ran with its custom data at a path that answers 404"
            assert "/v1/custom-data/{table}" in (record.report.error or ""), record.report.error
            assert "404" in (record.report.error or ""), record.report.error
            assert time.monotonic() - started < 5, "refused at once, not after retries"
    finally:
        env.set_variants(paths="documented")
    after = env.counters()
    assert {k: after.get(k, 0) for k in WRITES} == {k: before.get(k, 0) for k in WRITES}


def test_the_moved_path_variant_really_serves_the_tables_there(runner: VariantRunner) -> None:
    env = runner.env
    api = env.api()
    env.set_variants(paths="custom_data_tables")
    try:
        api.put("/v1/custom-data/tables/moved_check/rows", data={"rows": [{"key": "k", "value": 1}]})
        listed = api.get("/v1/custom-data/tables/moved_check/rows", params={"page": 1, "limit": 10})
        assert [r["key"] for r in listed["items"]] == ["k"]
    finally:
        env.set_variants(paths="documented")
        api.close()
