"""Every declared stream builds RQL that parses and that the spec allows for its endpoint.

The capability table (``fixtures/connect/cursor_fields.json``) is extracted from the
Connect OpenAPI spec: per list endpoint, the filters with their lookups and the
orderable fields. A query using anything else would be refused by real Connect.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import py_rql
import pytest
from lark import Token, Tree

from adapters.connect import STREAMS, ConnectStreamSource, MediaFolderFilesSource, StreamSpec
from adapters.protocol import Ordering
from sandbox.connect.store import parse_query_string
from tests.connect.connect_fakes import ScriptedClient

CAPABILITIES = json.loads(
    (Path(__file__).resolve().parents[2] / "fixtures" / "connect" / "cursor_fields.json").read_text()
)["endpoints"]
T0 = datetime(2024, 3, 1, 12, 0, tzinfo=UTC)
NOW = datetime(2024, 6, 1, tzinfo=UTC)


def _value(node: Any) -> str:
    while isinstance(node, Tree):
        node = node.children[0]
    return str(node.value) if isinstance(node, Token) else str(node)


def used_lookups(tree: Any) -> list[tuple[str, str, list[str]]]:
    """(property, lookup, values) for every comparison/list/search term in a parsed RQL tree."""
    found: list[tuple[str, str, list[str]]] = []
    if not isinstance(tree, Tree):
        return found
    if tree.data == "comp":
        args = tree.children
        assert len(args) == 3 and args[0].data == "comp_term", "only op(prop,value) form is sent"
        found.append((_value(args[1]), _value(args[0]), [_value(args[2])]))
        return found
    if tree.data in ("listing", "searching"):
        op, prop = _value(tree.children[0]), _value(tree.children[1])
        found.append((prop, op, [_value(v) for v in tree.children[2:]]))
        return found
    for child in tree.children:
        found += used_lookups(child)
    return found


def _record(spec: StreamSpec, key: str, at: datetime) -> dict[str, Any]:
    record: dict[str, Any] = {"id": key, "name": f"{key}.csv"}
    for field in {spec.order_field, spec.cursor_field}:
        target = record
        parts = field.split(".")
        for part in parts[:-1]:
            target = target.setdefault(part, {})
        target[parts[-1]] = at.isoformat()
    return record


def _source(spec: StreamSpec, client: ScriptedClient) -> ConnectStreamSource:
    if spec.name == "media_folder_files":
        return MediaFolderFilesSource(
            client, folder_type="streams_attachments", folder_name="STR-1", now=lambda: NOW
        )  # type: ignore[arg-type]
    return ConnectStreamSource(client, spec, now=lambda: NOW)  # type: ignore[arg-type]


@pytest.mark.parametrize("name", sorted(STREAMS))
@pytest.mark.parametrize("cursor", [None, T0])
def test_stream_queries_use_only_declared_filters_and_orderings(name: str, cursor: datetime | None) -> None:
    spec = STREAMS[name]
    allowed = CAPABILITIES[spec.spec_path]
    # two records at the same instant then the end: forces the tie-breaking keyset query
    first = [_record(spec, "X-0001", T0), _record(spec, "X-0002", T0)]
    client = ScriptedClient([(first, "items 0-1/5"), ([], "items 0-0/0")])
    records = list(_source(spec, client).iter_raw(cursor))
    assert [r["id"] for r in records] == ["X-0001", "X-0002"]
    assert len(client.calls) == 3, "two pages, the second (empty) asked twice"
    for url, params in client.calls:
        assert params["offset"] == 0, "keyset paging never moves the offset"
        parsed = parse_query_string(url.split("?", 1)[1] if "?" in url else "")
        assert parsed.ordering == [spec.order_field]
        assert spec.order_field in allowed["orderable"]
        for select in parsed.select:
            assert select.startswith("-"), "only exclusions are selected"
        if not parsed.filter_text:
            continue
        tree = py_rql.parse(parsed.filter_text)
        for prop, lookup, values in used_lookups(tree):
            assert prop in allowed["filters"], f"{name}: {prop} is not filterable on {spec.spec_path}"
            assert lookup in allowed["filters"][prop], f"{name}: {lookup}({prop}) not allowed"
            if allowed["types"].get(prop) == "datetime":
                for value in values:
                    assert value.endswith("Z") and "+" not in value, value
    second = parse_query_string(client.queries()[1]).filter_text
    assert "out(id,(X-0001,X-0002))" in second
    assert f"gt({spec.order_field}," in second
    if spec.ordering is Ordering.UNORDERED:
        assert f"lt({spec.filter_field},2024-06-01T00:00:00.000000Z)" in second
    if cursor is not None and spec.filter_field is not None and spec.ordering is not Ordering.FULL_SCAN:
        assert f"ge({spec.filter_field},2024-03-01T12:00:00.000000Z)" in second


def test_every_stream_declares_cursor_and_capability() -> None:
    for spec in STREAMS.values():
        allowed = CAPABILITIES[spec.spec_path]
        assert spec.ordering in set(Ordering)
        if spec.ordering is Ordering.CURSOR_ORDERED:
            assert spec.cursor_field == spec.order_field
            assert spec.cursor_field in allowed["orderable"]
        if spec.ordering is Ordering.UNORDERED:
            assert spec.filter_field in allowed["filters"]
            assert spec.filter_field not in allowed["orderable"]
        if spec.ordering is Ordering.FULL_SCAN:
            assert spec.filter_field is None
        for lookup in ("eq", "gt"):
            assert lookup in allowed["filters"][spec.order_field]
        assert "out" in allowed["filters"]["id"]
