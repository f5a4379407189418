"""What ``discover`` (alias ``streams``) prints: each integration's streams and settings schema.

The stream rows are derived from the declarations the adapters page by
(:data:`adapters.connect.streams.STREAMS`, the Codat source), so the catalog cannot
drift from what the code does.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from adapters.codat.settings import config_json_schema as codat_schema
from adapters.connect.settings import config_json_schema as connect_schema
from adapters.connect.streams import STREAMS, StreamSpec
from adapters.protocol import Ordering

__all__ = ["INTEGRATIONS", "StreamInfo", "catalog", "settings_rows"]


@dataclass(frozen=True)
class StreamInfo:
    name: str
    kind: str
    key: str
    cursor_field: str
    ordering: str
    paging: str


def _connect_paging(spec: StreamSpec) -> str:
    if spec.ordering is Ordering.CURSOR_ORDERED:
        return f"keyset on ({spec.order_field}, {spec.key_field}), always offset 0"
    if spec.ordering is Ordering.UNORDERED:
        return (
            f"window {spec.filter_field} in [since, server time), keyset on "
            f"({spec.order_field}, {spec.key_field})"
        )
    return f"full scan keyset on ({spec.order_field}, {spec.key_field}), payload-hash change detection"


def _connect_streams() -> list[StreamInfo]:
    return [
        StreamInfo(s.name, s.kind, s.key_field, s.cursor_field, s.ordering.value, _connect_paging(s))
        for s in STREAMS.values()
    ]


def _codat_streams() -> list[StreamInfo]:
    return [
        StreamInfo(
            "codat_files_{company_id}",
            "document",
            "(fileName, uploaded, sourceType)",
            "uploaded",
            Ordering.UNORDERED.value,
            "one unpaginated list of every file, then one archive download per affected date",
        )
    ]


INTEGRATIONS: dict[str, tuple[Any, Any]] = {
    "connect": (_connect_streams, connect_schema),
    "codat": (_codat_streams, codat_schema),
}


def catalog() -> dict[str, Any]:
    """``{integration: {"streams": [...], "settings_schema": {...}}}``, JSON-ready."""
    return {
        name: {"streams": [asdict(s) for s in streams()], "settings_schema": schema()}
        for name, (streams, schema) in INTEGRATIONS.items()
    }


def _type_of(prop: dict[str, Any], defs: dict[str, Any]) -> str:
    if "$ref" in prop:
        return prop["$ref"].rsplit("/", 1)[1]
    if "anyOf" in prop:
        return " | ".join(_type_of(p, defs) for p in prop["anyOf"])
    if "allOf" in prop:
        return " & ".join(_type_of(p, defs) for p in prop["allOf"])
    return str(prop.get("type", "any"))


def settings_rows(schema: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    """(key, type, default, description) per setting, nested objects flattened with dots."""
    defs = schema.get("$defs", {})
    rows: list[tuple[str, str, str, str]] = []

    def walk(props: dict[str, Any], prefix: str) -> None:
        for key, prop in props.items():
            ref = prop.get("$ref") or (prop.get("allOf") or [{}])[0].get("$ref")
            target = defs.get(ref.rsplit("/", 1)[1]) if ref else None
            description = str(prop.get("description") or (target or {}).get("description") or "")
            default = prop.get("default", "")
            shown = "" if isinstance(default, dict) else str(default)
            summary = description.strip().splitlines()[0] if description else ""
            rows.append((prefix + key, _type_of(prop, defs), shown, summary))
            nested = (target or prop).get("properties")
            if nested:
                walk(nested, f"{prefix}{key}.")

    walk(schema.get("properties", {}), "")
    return rows
