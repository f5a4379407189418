"""The Connect connectors across the sandbox's variants of every unconfirmed property.

Here one variant at a time (every other option at its default), so each variant of
each option is run; ``make variants-connect`` runs the full cross product
(``tests/connect/long_variants.py``).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from sandbox.connect.variants import ConnectVariants, one_at_a_time
from sandbox.server import RunningServer, serve_in_thread
from tests.connect.variant_runs import run_connectors

VARIANTS = one_at_a_time()


@pytest.fixture(scope="module")
def nuntiq() -> Iterator[RunningServer]:
    server = serve_in_thread("nuntiq")
    try:
        yield server
    finally:
        server.stop()


@pytest.mark.parametrize("variants", VARIANTS, ids=[v.label() for v in VARIANTS])
def test_connectors_land_everything_under_each_variant(
    connect_server: RunningServer, nuntiq: RunningServer, variants: ConnectVariants
) -> None:
    run_connectors(connect_server, nuntiq, variants, seed=VARIANTS.index(variants) + 1)
