"""The full cross product of the Connect sandbox variants (``make variants-connect``).

Not collected by ``make test`` (the file name does not start with ``test_``): every
combination of every option's variants, both Connect connectors each time.
"""

from __future__ import annotations

import pytest

from sandbox.connect.variants import ConnectVariants, all_variants
from sandbox.server import RunningServer
from tests.connect.variant_runs import run_connectors

COMBINATIONS = list(all_variants())


@pytest.fixture(scope="module")
def nuntiq(nuntiq_server: RunningServer) -> RunningServer:
    """This module's tests share one Nuntiq service."""
    return nuntiq_server


@pytest.mark.parametrize("variants", COMBINATIONS, ids=[v.label() for v in COMBINATIONS])
def test_connectors_land_everything_under_every_combination(
    connect_server: RunningServer, nuntiq: RunningServer, variants: ConnectVariants
) -> None:
    run_connectors(connect_server, nuntiq, variants, seed=COMBINATIONS.index(variants) + 1)
