"""What ``discover`` (alias ``streams``) prints: each integration's streams and settings schema.

Each integration's plug-in (:mod:`lib.integrations`) derives its stream rows from the
declarations its adapters page by (:data:`adapters.connect.streams.STREAMS`, the Codat
source), so the catalog cannot drift from what the code does. A plug-in with no stream
rows (Acme: a connector built on the REST kit, with no settings model of its own) is
not listed.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from lib.integrations import INTEGRATIONS, StreamInfo

__all__ = ["StreamInfo", "catalog", "settings_rows"]


def catalog() -> dict[str, Any]:
    """``{integration: {"streams": [...], "settings_schema": {...}}}``, JSON-ready."""
    listed: dict[str, Any] = {}
    for integration in INTEGRATIONS:
        streams = integration.streams()
        if streams:
            listed[integration.name] = {
                "streams": [asdict(s) for s in streams],
                "settings_schema": integration.settings_schema(),
            }
    return listed


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
