"""The Connect plug-in: its connectors, streams, settings, checks, demo changes, proof wiring."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import httpx

from adapters.connect.settings import config_json_schema
from adapters.connect.streams import STREAMS, StreamSpec
from adapters.protocol import Ordering
from lib.integrations.base import DemoConnector, Integration, SandboxTarget, StreamInfo


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


def _paging(spec: StreamSpec) -> str:
    if spec.ordering is Ordering.CURSOR_ORDERED:
        return f"keyset on ({spec.order_field}, {spec.key_field}), always offset 0"
    if spec.ordering is Ordering.UNORDERED:
        return (
            f"window {spec.filter_field} in [since, server time), keyset on "
            f"({spec.order_field}, {spec.key_field})"
        )
    return f"full scan keyset on ({spec.order_field}, {spec.key_field}), payload-hash change detection"


def streams() -> list[StreamInfo]:
    """Derived from :data:`adapters.connect.streams.STREAMS`, so it cannot drift from the code."""
    return [
        StreamInfo(s.name, s.kind, s.key_field, s.cursor_field, s.ordering.value, _paging(s))
        for s in STREAMS.values()
    ]


def owns_config(config: Mapping[str, Any]) -> bool:
    return any(str(key).startswith("connect_") for key in config)


def checks(context: Any) -> list[Any]:
    from lib.cli.check import check_connect  # the check module asks this registry: import late

    return [check_connect(context)]


def point_at(settings: dict[str, Any], target: SandboxTarget) -> None:
    config = settings["config"]
    config["connect_endpoint"] = target.url("connect")
    settings["secrets"][config.get("connect_api_key_secret", "connect_api_key")] = target.key("connect")


INTEGRATION = Integration(
    name="connect",
    connectors=("connect_pull_suppliers", "connect_pull_billing_documents"),
    services=("connect",),
    demo=(
        DemoConnector(
            name="connect_pull_suppliers",
            settings="fixtures/settings/connect_pull_suppliers.json",
            between_runs=touch_listings,
        ),
        DemoConnector(
            name="connect_pull_billing_documents",
            settings="fixtures/settings/connect_pull_billing_documents.json",
            between_runs=add_billing_batches,
        ),
    ),
    streams=streams,
    settings_schema=config_json_schema,
    owns_config=owns_config,
    checks=checks,
    point_at=point_at,
)
