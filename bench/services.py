"""Sandbox services for the benchmarks, each in its own process (``serve_in_subprocess``).

The client under test and the services never share an interpreter, so server-side
work (JSON encoding, RQL filtering, zipping) neither competes for the client's GIL
nor shows up in the client's peak RSS.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterable

from sandbox.server import RunningServer, serve_in_subprocess

CONNECT_API_KEY = "ApiKey SU-000-000-000:sandbox-connect-key"
CODAT_API_KEY = "sandbox-codat-api-key"
SINCE = "2000-01-01T00:00:00Z"  # every benchmark pulls everything: a backfill from far back

_customers = itertools.count(1)


def fresh_customer() -> str:
    """A customer number not used before by this process (Nuntiq keeps customers apart)."""
    return f"7{os.getpid() % 10000:04d}{next(_customers):03d}"


def connect_sandbox(listings: int, vendors: int, seed: int = 7) -> RunningServer:
    """Connect with ``listings`` listings spread over ``vendors`` vendors (nothing else of note)."""
    counts = {
        "listings": listings,
        "vendors": vendors,
        "providers": 5,
        "requests": 0,
        "subscription_assets": 0,
        "subscription_requests": 0,
        "tier_accounts": 0,
        "billing_batches": 0,
        "media_files": 0,
    }
    return serve_in_subprocess("connect", seed=seed, counts=counts)


def nuntiq_sandbox() -> RunningServer:
    return serve_in_subprocess("nuntiq")


def set_latency(servers: Iterable[RunningServer], latency_ms: float) -> None:
    """Every service adds ``latency_ms`` to every (non-admin) response; 0 removes it."""
    for server in servers:
        server.set_faults(latency_ms=latency_ms)
