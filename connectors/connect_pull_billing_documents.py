"""Upload the files attached to CloudBlue Connect billing batches as Nuntiq source documents.

Billing batches are read incrementally by creation time; each batch's files are
streamed from Connect and uploaded exactly once (the document sink's delivery ledger
survives crashes and reruns), one source document per file. A file whose download Connect
keeps refusing as a bad request (or whose upload Nuntiq refuses) is quarantined; the other
files land, and later runs fetch the quarantined files again by batch and file id.

settings.json: ``config.connector_name``, ``config.connect_endpoint`` (``sandbox:connect``
for the local sandbox), optional ``config.connect_api_key_secret`` (default
``connect_api_key``); ``secrets.<that name>`` holds the API key. Job params:
``since_override``, ``until_override``, ``lookback_days``, ``quarantine_retry``,
``quarantine_discard``; ``config.quarantine`` (``false`` = fail fast).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from adapters.connect import BillingBatchFilesSource, client_from_context, settings_from_context
from adapters.quarantine import Quarantine
from adapters.records import DocumentItem
from adapters.runtime import require_config
from adapters.sinks import DocumentSink
from adapters.sync import sync

STREAM = "billing_batch_files"


def upload_fields(item: DocumentItem) -> Mapping[str, Any]:
    """Form fields sent with each upload: where the file came from (never secrets)."""
    return {
        "source": "cloudblue_connect",
        "external_id": item.key,
        "batch_id": str(item.metadata.get("batch_id") or ""),
    }


def run(context: Any) -> dict[str, Any]:
    connector_name = require_config(context, "connector_name")
    settings = settings_from_context(context)
    client = client_from_context(context, settings)
    source = BillingBatchFilesSource.for_context(context, client, settings)  # config.retry checked here
    sink = DocumentSink.for_context(context, namespace=f"{connector_name}.{STREAM}", fields=upload_fields)
    quarantine = Quarantine.for_context(context, connector_name=connector_name)
    summary = sync(context, source, sink, connector_name=connector_name, stream=STREAM, quarantine=quarantine)
    result = summary.as_dict()
    result.update(
        {"connector_name": connector_name, "uploaded": sink.uploaded, "reconciled": sink.reconciled}
    )
    return result
