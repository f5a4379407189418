"""The Connect connectors across the sandbox's variants of every unconfirmed property.

Here one variant at a time (every other option at its default), so each variant of
each option is run; ``make variants-connect`` runs the full cross product
(``tests/connect/long_variants.py``).
"""

from __future__ import annotations

import pytest

from sandbox.connect.variants import ConnectVariants, one_at_a_time
from sandbox.server import RunningServer
from tests.connect.variant_runs import run_connectors

VARIANTS = one_at_a_time()


@pytest.fixture(scope="module")
def nuntiq(nuntiq_server: RunningServer) -> RunningServer:
    """This module's tests share one Nuntiq service."""
    return nuntiq_server


@pytest.mark.parametrize("variants", VARIANTS, ids=[v.label() for v in VARIANTS])
def test_connectors_land_everything_under_each_variant(
    connect_server: RunningServer, nuntiq: RunningServer, variants: ConnectVariants
) -> None:
    run_connectors(connect_server, nuntiq, variants, seed=VARIANTS.index(variants) + 1)
