"""Poisoned source data for the proof suites, and a look into the connectors' quarantine.

A poisoned item is one the connectors must refuse permanently: a listing without a
vendor (cannot be mapped to a supplier), a billing-batch file whose download Connect
always refuses (HTTP 422). The suites plant them next to good data, check that they end
up in the quarantine by name while the rest is delivered, then cure them and check that
the next run lands them and releases them.
"""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from typing import Any

import httpx

from adapters.quarantine import QuarantineStore
from tests.proof.env import ProofEnv


def _admin(url: str, method: str, path: str, **kwargs: Any) -> Any:
    response = httpx.request(method, f"{url}{path}", timeout=60, **kwargs)
    response.raise_for_status()
    return response.json() if response.content else None


def quarantined(env: ProofEnv, connector: str) -> dict[str, str]:
    """The connector's quarantined keys and their reasons (every stream)."""
    name = env.settings[connector]["config"]["connector_name"]
    api = env.api()
    try:
        return {entry.key: entry.reason for entry in QuarantineStore(api, namespace=name).entries()}
    finally:
        api.close()


def _listing(env: ProofEnv, listing_id: str, vendor: Any) -> dict[str, Any]:
    listings = _admin(env.connect.url, "GET", "/_sandbox/connect/dump/listings")
    good = next(r for r in listings if isinstance(r.get("vendor"), dict) and r["vendor"].get("id"))
    record: dict[str, Any] = copy.deepcopy(good)
    record["id"] = listing_id
    record["updated"] = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f+00:00")
    if vendor is None:
        record.pop("vendor", None)
    else:
        record["vendor"] = vendor if vendor != "good" else good["vendor"]
    return record


def poison_listing(env: ProofEnv, listing_id: str) -> str:
    """Store a listing without a vendor; returns its key."""
    _admin(env.connect.url, "PUT", "/_sandbox/connect/raw/listings", json=_listing(env, listing_id, None))
    return listing_id


def cure_listing(env: ProofEnv, listing_id: str) -> None:
    """Give the listing a real vendor again (and a newer ``updated``, as Connect would)."""
    _admin(env.connect.url, "PUT", "/_sandbox/connect/raw/listings", json=_listing(env, listing_id, "good"))


def poison_download(env: ProofEnv, status: int = 422) -> list[str]:
    """Add a billing batch whose first file Connect refuses to serve; returns the file's key."""
    added = _admin(
        env.connect.url, "POST", "/_sandbox/connect/mutate", json={"collection": "billing_batches", "add": 1}
    )["added"]
    body = _admin(
        env.connect.url, "PUT", "/_sandbox/connect/poison", json={"batch": added[0], "status": status}
    )
    keys: list[str] = body["poisoned"]
    return keys


def cure_downloads(env: ProofEnv) -> None:
    _admin(env.connect.url, "DELETE", "/_sandbox/connect/poison")
