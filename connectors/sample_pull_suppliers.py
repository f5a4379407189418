"""Sample connector: pull suppliers from an external JSON export into Nuntiq (delta sync).

The "external system" is a JSON file (``config.suppliers_file``) shaped like a typical
supplier API answer: ``{"suppliers": [{"number", "name", "active", "updated_at",
"address": {...}}]}``. The connector is the three parts every pull connector has -- a
source, a mapper, a sink -- and one ``sync()`` call, which does the rest: ``since``
resolution (``since_override`` > stored cursor > ``lookback_days``), flushing every 500,
the watermark from saved suppliers only, and the cursor commit.

settings.json: ``config.connector_name``, ``config.suppliers_file`` (absolute, or
relative to the working directory or the repository root), ``secrets.source_token``;
job params ``since_override`` / ``until_override`` (ISO timestamps) and
``lookback_days`` (first run).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

from adapters.cursor import CursorError, parse_timestamp
from adapters.failures import Failure
from adapters.protocol import Ordering
from adapters.records import RecordItem
from adapters.sinks import LoadSink
from adapters.sync import sync
from lib.objects.supplier import SupplierLoad

STREAM_NAME = "suppliers"
SCHEMA_VERSION = 2
REPO_ROOT = Path(__file__).resolve().parents[1]


def resolve_path(value: str) -> Path:
    path = Path(value)
    if path.is_absolute() or path.exists():
        return path
    return REPO_ROOT / path


class SupplierFileSource:
    """Suppliers from a JSON export, filtered by ``updated_at`` like an ``updated_after`` query.

    The export is in no particular order, hence ``UNORDERED``: the cursor only moves when
    the whole file was read and saved.
    """

    name = STREAM_NAME
    ordering = Ordering.UNORDERED

    def __init__(self, path: Path) -> None:
        self.path = path

    @staticmethod
    def classifier(exc: BaseException) -> Failure | None:
        return None  # a local file: any error is a real error

    def fetch_since(self, cursor: datetime | None) -> Iterator[RecordItem]:
        data = json.loads(self.path.read_text(encoding="utf-8"))
        rows = data.get("suppliers") if isinstance(data, dict) else data
        if not isinstance(rows, list):
            raise ValueError(f"{self.path}: expected a list of suppliers under 'suppliers'")
        for position, row in enumerate(rows):
            key = str(row.get("number") or f"#{position}")
            try:
                updated = parse_timestamp(row["updated_at"])
            except (KeyError, CursorError) as exc:
                raise ValueError(
                    f"{self.path}: supplier {key!r}: bad or missing updated_at ({exc})"
                ) from None
            if cursor is None or updated >= cursor:
                yield RecordItem(key=key, cursor=updated, payload=row, stream=STREAM_NAME)


def map_supplier(item: RecordItem, load: SupplierLoad) -> Any:
    ext = item.as_mapping()
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
    return supplier


def run(context: Any) -> dict[str, Any]:
    connector_name = context.get_config("connector_name")
    suppliers_file = context.get_config("suppliers_file")
    if not connector_name or not suppliers_file or not context.get_secret("source_token"):
        raise RuntimeError(
            "config.connector_name, config.suppliers_file and secrets.source_token are required"
        )
    summary = sync(
        context,
        SupplierFileSource(resolve_path(suppliers_file)),
        LoadSink.for_context(context, SupplierLoad(context), map_supplier, name="suppliers"),
        connector_name=connector_name,
        metadata={"schema_version": SCHEMA_VERSION},
    )
    return {
        "connector_name": connector_name,
        "fetched": summary.items_written,
        "cursor_committed": summary.cursor_after,
        "summary": summary.as_dict(),
    }
