"""Fixtures: a fresh in-memory sandbox Nuntiq service per test, and a context factory."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any

import pytest

from lib.context import Context
from sandbox.server import RunningServer, serve_in_thread
from sandbox.testing import nuntiq_context

SECRET = "s3cr3t-Value-that-must-never-leak"
SETTINGS: dict[str, Any] = {
    "customer_number": "10000001",
    "secrets": {"acme_token": SECRET, "nested": {"password": "hunter2-nested-pass"}},
    "config": {"connector_name": "acme_eu", "page_size": 50},
    "job_params": {"lookback_days": 7},
}

ContextFactory = Callable[..., Context]


@pytest.fixture
def nuntiq() -> Iterator[RunningServer]:
    server = serve_in_thread("nuntiq")
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def make_context(nuntiq: RunningServer) -> ContextFactory:
    """``make_context(customer_number=None, settings=None, **kw)`` -> Context on the test's server."""

    def factory(
        customer_number: str | None = None, settings: Mapping[str, Any] | None = None, **kwargs: Any
    ) -> Context:
        return nuntiq_context(nuntiq, customer_number, dict(settings or SETTINGS), **kwargs)

    return factory
