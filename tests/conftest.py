"""Suite-wide settings.

Network access is blocked for every test except to loopback (``--block-network``
in pyproject.toml); sandbox services bind 127.0.0.1 on ephemeral ports.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from sandbox.server import RunningServer, serve_in_thread

# Cassettes never re-record in CI: an unmatched request is an error, not a live call.
os.environ.setdefault("NUNTIQ_TESTING", "1")


@pytest.fixture
def nuntiq() -> Iterator[RunningServer]:
    """A fresh sandbox Nuntiq service for one test (nothing left by another test)."""
    with serve_in_thread("nuntiq") as server:
        yield server


@pytest.fixture(scope="module")
def nuntiq_server() -> Iterator[RunningServer]:
    """One sandbox Nuntiq service shared by a test module (tests keep apart by customer)."""
    with serve_in_thread("nuntiq") as server:
        yield server
