"""Demo hooks for the Acme connector: what changes in Acme before the third demo run."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import httpx

from sandbox.acme.store import stamp


def touch_suppliers(env: Any) -> None:
    """Three suppliers are renamed and one is added after the first pull."""
    url = env.services.get("acme").url
    touch = {"first": 3, "rename": " (renamed)"}
    httpx.post(f"{url}/_sandbox/acme/touch", json=touch, timeout=30).raise_for_status()
    newcomer = {
        "number": "ACME-90001",
        "name": "Newcomer BV",
        "active": True,
        "updated_at": stamp(datetime.now(UTC)),
        "address": {"street": "1 Canal Street", "city": "Utrecht", "country": "NL"},
    }
    httpx.post(f"{url}/_sandbox/acme/add", json={"records": [newcomer]}, timeout=30).raise_for_status()
