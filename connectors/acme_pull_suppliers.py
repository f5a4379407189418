"""Pull suppliers from Acme ERP into Nuntiq (delta sync): the framework's REST-pull recipe on the kit.

Acme answers ``GET {api_url}/suppliers?updated_after=&page=&per_page=`` with
``{"data": [...], "next_page": N+1 | null}`` behind a bearer token, and throws 502/503 and
429. Whether the listing is ordered and whether ``updated_after`` is inclusive is not
documented; the kit's page loop is right either way, and retries follow ``config.retry``.

settings.json: ``config.connector_name``, ``config.api_url``, ``config.page_size`` (default
200), ``secrets.acme_token``; job params ``since_override``, ``until_override``, ``lookback_days``.
"""

from __future__ import annotations

from typing import Any

from adapters.records import RecordItem
from adapters.rest import BearerToken, PageNumber, RestSource, RestStream
from adapters.runtime import require_config
from adapters.sinks import LoadSink
from adapters.sync import sync
from lib.objects.supplier import SupplierLoad

SCHEMA_VERSION = 1


def suppliers_stream(page_size: int) -> RestStream:
    return RestStream(
        name="suppliers",
        path="suppliers",
        records_path="data",
        key_field="number",
        cursor_field="updated_at",
        since_param="updated_after",
        auth=BearerToken("acme_token"),
        paginator=PageNumber(size_param="per_page", size=page_size, next_field="next_page"),
    )


def map_supplier(item: RecordItem, load: Any) -> Any:
    ext = item.as_mapping()
    supplier = load.new()
    supplier.supplier_number = ext["number"]
    supplier.supplier_name = ext["name"]
    supplier.is_active = bool(ext.get("active", True))
    if address := ext.get("address"):
        location = supplier.new_location()
        location.location_code, location.location_name, location.is_active = "MAIN", "Headquarters", True
        entry = location.new_address()
        entry.street, entry.city = address.get("street", ""), address.get("city", "")
        entry.country_code = address.get("country", "XX")
    return supplier


def run(context: Any) -> dict[str, Any]:
    connector_name = require_config(context, "connector_name")
    stream = suppliers_stream(int(context.get_config("page_size", 200)))
    with RestSource.for_context(context, stream, base_url=require_config(context, "api_url")) as source:
        sink = LoadSink.for_context(context, SupplierLoad(context), map_supplier, name="suppliers")
        meta = {"schema_version": SCHEMA_VERSION}
        summary = sync(context, source, sink, connector_name=connector_name, metadata=meta)
    return {**summary.as_dict(), "connector_name": connector_name}
