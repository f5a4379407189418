"""Demo hooks for the Connect connectors: what changes in Connect before the third demo run."""

from __future__ import annotations

from typing import Any

import httpx


def _mutate(url: str, **body: Any) -> dict[str, Any]:
    response = httpx.post(f"{url}/_sandbox/connect/mutate", json=body, timeout=30)
    response.raise_for_status()
    result: dict[str, Any] = response.json()
    return result


def touch_listings(env: Any) -> None:
    """A tenth of the listings change and three new ones appear, all from known vendors.

    The vendors themselves do not change, so the supplier pull reads the changed listings
    and rightly writes no supplier row.
    """
    url = env.services.get("connect").url
    _mutate(url, collection="listings", fraction=0.1, add=3)


def add_billing_batches(env: Any) -> None:
    """Two new billing batches (with their files) are created after the first run."""
    url = env.services.get("connect").url
    _mutate(url, collection="billing_batches", add=2)
