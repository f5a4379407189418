"""Sample connector: pull suppliers from an external JSON export into Nuntiq (delta sync).

The "external system" is a JSON file (``config.suppliers_file``) shaped like a
typical supplier API answer: ``{"suppliers": [{"number", "name", "active",
"updated_at", "address": {...}}]}``. Only suppliers updated at or after the lower
bound are loaded; the new cursor is the greatest ``updated_at`` that was saved.

settings.json: ``config.connector_name``, ``config.suppliers_file`` (absolute, or
relative to the working directory or the repository root), ``secrets.source_token``;
job params ``since_override`` (ISO timestamp) and ``lookback_days`` (first run).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from lib.delta import delta_run
from lib.objects.supplier import SupplierLoad

STREAM_NAME = "suppliers"
SCHEMA_VERSION = 1
FLUSH_EVERY = 500
REPO_ROOT = Path(__file__).resolve().parents[1]


def parse_timestamp(value: str) -> datetime:
    """ISO-8601 with ``Z``, an offset or no zone (taken as UTC) -> aware UTC datetime."""
    parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def format_cursor(value: datetime) -> str:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def resolve_since(context: Any, lower_bound: str | None) -> datetime:
    """since_override > stored delta cursor > bootstrap window of lookback_days."""
    override = context.get_param("since_override")
    if override:
        context.logger.info(f"since_override set -> {override}", step="since")
        return parse_timestamp(str(override))
    if lower_bound:
        return parse_timestamp(lower_bound)
    lookback_days = int(context.get_param("lookback_days", 7))
    since = datetime.now(UTC) - timedelta(days=lookback_days)
    context.logger.info(
        f"first run: bootstrap window of {lookback_days} days -> {format_cursor(since)}", step="since"
    )
    return since


def resolve_path(value: str) -> Path:
    path = Path(value)
    if path.is_absolute() or path.exists():
        return path
    return REPO_ROOT / path


def read_suppliers(path: Path) -> list[dict[str, Any]]:
    data = json.loads(path.read_text(encoding="utf-8"))
    rows = data.get("suppliers") if isinstance(data, dict) else data
    if not isinstance(rows, list):
        raise ValueError(f"{path}: expected a list of suppliers under 'suppliers'")
    return rows


def map_supplier(ext: dict[str, Any], load: SupplierLoad) -> None:
    supplier = load.new()
    supplier.supplier_number = ext.get("number")
    supplier.supplier_name = ext.get("name")
    supplier.is_active = bool(ext.get("active", True))
    address = ext.get("address")
    if address:
        location = supplier.new_location()
        location.location_code = "MAIN"
        location.location_name = "Headquarters"
        location.is_active = True
        addr = location.new_address()
        addr.street = address.get("street", "")
        addr.city = address.get("city", "")
        addr.postal_code = address.get("postal_code", "")
        addr.country_code = address.get("country", "XX")


def run(context: Any) -> dict[str, Any]:
    connector_name = context.get_config("connector_name")
    suppliers_file = context.get_config("suppliers_file")
    if not connector_name or not suppliers_file or not context.get_secret("source_token"):
        raise RuntimeError(
            "config.connector_name, config.suppliers_file and secrets.source_token are required"
        )

    load = SupplierLoad(context)
    with delta_run(context, connector_name, STREAM_NAME, cursor_type="timestamp_utc") as delta:
        since = resolve_since(context, delta.lower_bound_cursor)
        path = resolve_path(suppliers_file)
        context.logger.info(f"reading suppliers updated at or after {format_cursor(since)}", step="start")

        watermark: datetime | None = None
        count = 0
        for ext in read_suppliers(path):
            try:
                updated = parse_timestamp(str(ext["updated_at"]))
            except (KeyError, ValueError) as exc:
                raise ValueError(f"supplier {ext.get('number')!r}: bad updated_at ({exc})") from None
            if updated < since:
                continue
            map_supplier(ext, load)
            count += 1
            watermark = updated if watermark is None else max(watermark, updated)
            if count % FLUSH_EVERY == 0:
                load.save_all()
                context.logger.info(f"flushed {count} so far", step="save")
        load.save_all()

        cursor = format_cursor(watermark) if watermark is not None else None
        if cursor is not None:
            delta.set_new_cursor(cursor)
        delta.set_records_processed(count)
        delta.set_metadata({"schema_version": SCHEMA_VERSION, "lower_bound_used": format_cursor(since)})
        context.logger.info(
            f"done: {count} suppliers", step="done", detail={"count": count, "cursor": cursor}
        )

    return {"connector_name": connector_name, "fetched": count, "cursor_committed": cursor}
