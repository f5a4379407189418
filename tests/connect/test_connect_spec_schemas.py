"""Connect sandbox answers and real example payloads against the v37 spec's schemas.

``fixtures/connect/schemas.json`` holds the ``GET`` 200 response schema of every path
the sandbox serves (extracted from the spec by ``fixtures/connect/extract_schemas.py``).
Every list and detail response of the sandbox must validate, apart from the known
differences between the spec and what real Connect sends, each listed below with the
real example payload (``fixtures/connect/examples/``) that shows it. The real examples
are then fed through every mapper that reads their type.

Not covered by the spec: ``/media/folders/{type}/{name}/files`` (no such path in v37;
its example is checked against the mapper only) and usage files (no mapper reads them).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from jsonschema import Draft202012Validator, ValidationError

from adapters.connect import (
    MediaFolderFilesSource,
    RequestsSource,
    SubscriptionAssetsSource,
    SubscriptionRequestsSource,
    TierAccountsSource,
    payload_hash,
)
from sandbox.connect.app import DEFAULT_API_KEY
from sandbox.server import RunningServer
from tests.connect.connect_fakes import ScriptedClient

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "connect"
SCHEMAS = json.loads((FIXTURES / "schemas.json").read_text())
EXAMPLES = {p.stem: json.loads(p.read_text()) for p in (FIXTURES / "examples").glob("*.json")}


def _numeric(value: Any) -> bool:
    try:
        float(value)
    except (TypeError, ValueError):
        return False
    return isinstance(value, str)


@dataclass(frozen=True)
class Allowed:
    """One known spec-versus-real difference: which errors it covers, and the evidence."""

    name: str
    evidence: str
    covers: Callable[[ValidationError], bool]


#: required properties real payloads leave out (evidence per name in ``REQUIRED_OMITTED``)
REQUIRED_OMITTED = {
    "pending_request": "subscriptions_asset",
    "template": "subscriptions_asset",
    "type": "subscriptions_asset items",
    "db": "tier_account",
    "parent": "tier_account",
    "owner": "tier_account",
}

ALLOWED = [
    Allowed(
        "quantities and period deltas as numeric strings",
        "subscriptions_asset items[].quantity '72.0', period.delta '1.0'",
        lambda e: e.validator == "type"
        and _numeric(e.instance)
        and e.validator_value in ("number", "integer"),
    ),
    Allowed(
        "attributes as an object, not an array",
        "billing_request attributes {}",
        lambda e: e.validator == "type" and list(e.absolute_path)[-1:] == ["attributes"]
        and isinstance(e.instance, dict),
    ),
    Allowed(
        "assignee as an object, not a string",
        "fulfillment_request assignee {id, name, email}",
        lambda e: e.validator == "type" and list(e.absolute_path)[-1:] == ["assignee"]
        and isinstance(e.instance, dict),
    ),
    Allowed(
        "null where the spec says string",
        "billing_request asset.tiers.customer.contact_info.address_line2 null",
        lambda e: e.validator == "type" and e.instance is None,
    ),
    Allowed(
        "an empty string outside an enum",
        "subscriptions_asset connection.type ''",
        lambda e: e.validator == "enum" and e.instance == "",
    ),
    Allowed(
        "required properties real payloads omit",
        ", ".join(f"{k} ({v})" for k, v in REQUIRED_OMITTED.items()),
        lambda e: e.validator == "required"
        and all(name in e.instance or name in REQUIRED_OMITTED for name in e.validator_value),
    ),
]


def unexplained(path: str, body: Any) -> list[str]:
    """Validation errors of ``body`` against ``path``'s schema that no exception covers."""
    schema = dict(SCHEMAS["paths"][path], components=SCHEMAS["components"])
    errors = Draft202012Validator(schema).iter_errors(body)
    return [
        f"{'/'.join(map(str, e.absolute_path)) or '(root)'}: {e.message[:160]}"
        for e in errors
        if not any(rule.covers(e) for rule in ALLOWED)
    ]


def used_rules(path: str, body: Any) -> set[str]:
    schema = dict(SCHEMAS["paths"][path], components=SCHEMAS["components"])
    return {r.name for e in Draft202012Validator(schema).iter_errors(body) for r in ALLOWED if r.covers(e)}


LISTS = {
    "/listings": "listings",
    "/requests": "requests",
    "/subscriptions/assets": "subscriptions/assets",
    "/subscriptions/requests": "subscriptions/requests",
    "/tier/accounts": "tier/accounts",
    "/billing/batches": "billing/batches",
    "/partners": "partners",
}


def _get(connect: RunningServer, url: str) -> Any:
    response = httpx.get(
        f"{connect.url}/public/v1/{url}", headers={"Authorization": DEFAULT_API_KEY}, timeout=30
    )
    response.raise_for_status()
    return response.json()


@pytest.mark.parametrize("path", sorted(LISTS))
def test_sandbox_list_and_detail_answers_follow_the_spec(connect: RunningServer, path: str) -> None:
    listing = _get(connect, f"{LISTS[path]}?limit=50")
    assert listing, f"{path}: the sandbox serves no records to check"
    assert unexplained(path, listing) == []
    for record in listing[:5]:
        detail = _get(connect, f"{LISTS[path]}/{record['id']}")
        assert unexplained(f"{path}/{{id}}", detail) == []


def test_sandbox_batch_file_lists_follow_the_spec(connect: RunningServer) -> None:
    for batch in _get(connect, "billing/batches?limit=10"):
        files = _get(connect, f"billing/batches/{batch['id']}/files")
        assert files and unexplained("/billing/batches/{batch_id}/files", files) == []


EXAMPLE_PATHS = {
    "fulfillment_request": "/requests/{id}",
    "subscriptions_asset": "/subscriptions/assets/{id}",
    "billing_request": "/subscriptions/requests/{id}",
    "tier_account": "/tier/accounts/{id}",
}


@pytest.mark.parametrize("name", sorted(EXAMPLE_PATHS))
def test_real_examples_fail_the_spec_only_in_the_known_ways(name: str) -> None:
    assert unexplained(EXAMPLE_PATHS[name], EXAMPLES[name]) == []


def test_every_allowed_difference_is_seen_in_a_real_example() -> None:
    seen = set().union(*(used_rules(path, EXAMPLES[name]) for name, path in EXAMPLE_PATHS.items()))
    assert seen == {rule.name for rule in ALLOWED}, "an exception no real payload needs is too lax"


def test_the_exceptions_do_not_hide_a_real_fault() -> None:
    broken = dict(EXAMPLES["fulfillment_request"], id=12345, status="no-such-status")
    problems = unexplained("/requests/{id}", broken)
    assert any(p.startswith("id:") for p in problems) and any(p.startswith("status:") for p in problems)


# -- the real examples through the mappers that read their type -------------------------

NOW = datetime(2030, 1, 1, tzinfo=UTC)
RECORD_SOURCES: dict[str, Callable[[Any], Any]] = {
    "fulfillment_request": lambda client: RequestsSource(client),
    "subscriptions_asset": lambda client: SubscriptionAssetsSource(client, now=lambda: NOW),
    "billing_request": lambda client: SubscriptionRequestsSource(client, now=lambda: NOW),
    "tier_account": lambda client: TierAccountsSource(client),
}


@pytest.mark.parametrize("name", sorted(RECORD_SOURCES))
def test_real_examples_map_to_items(name: str) -> None:
    example = EXAMPLES[name]
    client = ScriptedClient([([example], "items 0-0/1"), ([], "items 0-0/0")])
    items = list(RECORD_SOURCES[name](client).fetch_since(None))
    assert [i.key for i in items] == [example["id"]]
    item = items[0]
    assert item.cursor is not None and item.cursor.tzinfo is not None
    assert item.as_mapping() == example
    if name == "tier_account":
        assert payload_hash(example) == payload_hash(json.loads(json.dumps(example)))


def test_real_media_file_list_maps_to_documents() -> None:
    listing = EXAMPLES["media_folder_files_list"]
    client = ScriptedClient([(listing, f"items 0-{len(listing) - 1}/{len(listing)}"), ([], "items 0-0/0")])
    source = MediaFolderFilesSource(
        client,  # type: ignore[arg-type]
        folder_type="streams_attachments",
        folder_name="STR-7755-7115-2464",
    )
    documents = list(source.fetch_since(None))
    assert [d.key for d in documents] == [r["id"] for r in listing]
    for document, record in zip(documents, listing, strict=True):
        assert document.name == record["name"] and document.size == record["size"]
        assert document.media_type == record["mime_type"]
        assert document.cursor is not None and document.cursor.tzinfo is not None
