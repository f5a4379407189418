"""The Acme plug-in (the REST kit's example integration): its connector, demo change, proof wiring."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import httpx

from lib.integrations.base import DemoConnector, Integration, SandboxTarget
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


def point_at(settings: dict[str, Any], target: SandboxTarget) -> None:
    settings["config"]["api_url"] = target.url("acme")
    settings["secrets"]["acme_token"] = target.key("acme")


INTEGRATION = Integration(
    name="acme",
    connectors=("acme_pull_suppliers",),
    services=("acme",),
    demo=(
        DemoConnector(
            name="acme_pull_suppliers",
            settings="fixtures/settings/acme_pull_suppliers.json",
            between_runs=touch_suppliers,
        ),
    ),
    point_at=point_at,
)
