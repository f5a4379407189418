"""Fixtures: one sandbox Nuntiq service for the session, a fresh customer per test.

Customers are isolated by the service itself, so giving every test its own customer
number is as good as a fresh database and saves a server start per test. Fault plans
are server-wide, so the ``nuntiq`` fixture resets the plan after each test. Tests that
need a whole server to themselves (the CLI ones) use ``fresh_nuntiq``.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import pytest

from lib.context import Context
from lib.jobcontext import nuntiq_context
from sandbox.server import RunningServer, serve_in_thread

SECRET = "s3cr3t-Value-that-must-never-leak"
SETTINGS: dict[str, Any] = {
    "customer_number": "10000001",
    "secrets": {"acme_token": SECRET, "nested": {"password": "hunter2-nested-pass"}},
    "config": {"connector_name": "acme_eu", "page_size": 50},
    "job_params": {"lookback_days": 7},
}

ContextFactory = Callable[..., Context]
_numbers = itertools.count(1)


@pytest.fixture(scope="session")
def shared_nuntiq() -> Iterator[RunningServer]:
    server = serve_in_thread("nuntiq")
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def nuntiq(shared_nuntiq: RunningServer) -> Iterator[RunningServer]:
    """The session's service, with its fault plan reset after the test."""
    yield shared_nuntiq
    shared_nuntiq.set_faults()


@pytest.fixture
def fresh_nuntiq() -> Iterator[RunningServer]:
    server = serve_in_thread("nuntiq")
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def new_customer() -> Callable[[], str]:
    """Returns a customer number no other test uses."""
    return lambda: f"3{next(_numbers):07d}"


@pytest.fixture
def customer(new_customer: Callable[[], str]) -> str:
    return new_customer()


@pytest.fixture
def make_context(nuntiq: RunningServer, customer: str) -> ContextFactory:
    """``make_context(customer_number=None, settings=None, **kw)``; defaults to the test's customer."""

    def factory(
        customer_number: str | None = None, settings: Mapping[str, Any] | None = None, **kwargs: Any
    ) -> Context:
        return nuntiq_context(nuntiq, customer_number or customer, dict(settings or SETTINGS), **kwargs)

    return factory
