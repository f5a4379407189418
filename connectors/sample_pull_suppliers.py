"""Sample connector: pull suppliers from an external JSON export into Nuntiq (delta sync).

The "external system" is a JSON file (``config.suppliers_file``) shaped like a typical
supplier API answer: ``{"suppliers": [{"number", "name", "active", "updated_at",
"address": {...}}]}``. The connector is the three parts every pull connector has -- a
source, a mapper, a sink -- and one ``sync()`` call, which does the rest: ``since``
resolution (``since_override`` > stored cursor > ``lookback_days``), flushing every 500,
the watermark from saved suppliers only, and the cursor commit.

A supplier the export gets wrong (no ``updated_at``, a garbage timestamp, a row that is
not an object, a row the Load rejects) is quarantined, not fatal: the others are saved,
the cursor moves on, and later runs read the quarantined numbers from the file again
first and release them once they save.

settings.json: ``config.connector_name``, ``config.suppliers_file`` (absolute, or
relative to the working directory or the repository root), ``secrets.source_token``,
optional ``config.quarantine`` (``false`` to fail on the first bad supplier, or
``{"max_items": 100, "max_ratio": 0.01}``); job params ``since_override`` /
``until_override`` (ISO timestamps), ``lookback_days`` (first run), ``quarantine_retry``
and ``quarantine_discard``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from adapters.cursor import CursorError, parse_timestamp
from adapters.protocol import Ordering, Source
from adapters.quarantine import Quarantine
from adapters.records import RecordItem, Refetch, RefusedItem, SourceItem
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


class SupplierFileSource(Source[RecordItem]):
    """Suppliers from a JSON export, filtered by ``updated_at`` like an ``updated_after`` query.

    The export is in no particular order, hence ``UNORDERED``: the cursor only moves when
    the whole file was read and saved.
    """

    name = STREAM_NAME
    ordering = Ordering.UNORDERED
    lookback = timedelta(0)

    def __init__(self, path: Path) -> None:
        self.path = path


    def _rows(self) -> list[Any]:
        data = json.loads(self.path.read_text(encoding="utf-8"))
        rows = data.get("suppliers") if isinstance(data, dict) else data
        if not isinstance(rows, list):
            raise ValueError(f"{self.path}: expected a list of suppliers under 'suppliers'")
        return rows

    def _item(self, position: int, row: Any) -> RecordItem | RefusedItem:
        """The row as a record, or a refusal naming what is wrong with it (the run goes on)."""
        if not isinstance(row, dict):
            reason = f"{self.path}: row {position} is not an object: {row!r:.60}"
            return RefusedItem(f"#{position}", None, reason, stream=STREAM_NAME)
        key = str(row.get("number") or f"#{position}")
        try:
            updated = parse_timestamp(row["updated_at"])
        except (KeyError, CursorError) as exc:
            reason = f"{self.path}: supplier {key!r}: bad or missing updated_at ({exc})"
            return RefusedItem(key, None, reason, stream=STREAM_NAME)
        return RecordItem(key=key, cursor=updated, payload=row, stream=STREAM_NAME)

    def fetch_since(self, cursor: datetime | None) -> Iterator[SourceItem]:
        for position, row in enumerate(self._rows()):
            item = self._item(position, row)
            # a refusal has no cursor to filter by, so it is always yielded
            if item.cursor is None or cursor is None or item.cursor >= cursor:
                yield item

    def refetch(self, wanted: Sequence[Refetch]) -> Iterator[SourceItem]:
        """Quarantined suppliers again by number: the file is read again, whatever their time."""
        keys = {w.key for w in wanted}
        for position, row in enumerate(self._rows()):
            item = self._item(position, row)
            if item.key in keys:
                yield item


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
        quarantine=Quarantine.for_context(context, connector_name=connector_name),
    )
    return {
        "connector_name": connector_name,
        "fetched": summary.items_written,
        "cursor_committed": summary.cursor_after,
        "quarantined": summary.quarantine.get("held", 0),
        "summary": summary.as_dict(),
    }
