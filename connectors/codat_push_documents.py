"""Push Nuntiq source documents created since the cursor to a Codat company's connection.

The source is every file of every Nuntiq source document created at or after the
stream's cursor (optionally of one ``document_type``); each file is downloaded through
``context.api`` and uploaded to Codat in checked batches of at most 20 (10 MB each,
Codat's allowed types). A file Codat would refuse is reported by name (in the result
and the log) and does not block the rest. Uploads are exactly-once across reruns
through a delivery ledger in Nuntiq custom data. Documents that came from Codat (the
pull connector marks them ``source=codat``) are never pushed back.

settings.json::

    "secrets": {"codat_api_key": "..."},
    "config": {
      "connector_name": "codat_push_eu",
      "codat": {"server_url": "sandbox:codat", "company_id": "...", "connection_id": "..."},
      "document_type": "invoice_scan"               # optional filter
    }

Job params: ``since_override``, ``until_override``, ``lookback_days`` (first run).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import asdict
from typing import Any

from adapters.codat import client_from_context, settings_from_context, upload_sink
from adapters.forwarding import ForwardingSource
from adapters.nuntiq.documents import NuntiqDocumentSource
from adapters.records import DocumentItem
from adapters.runtime import require_config
from adapters.sync import sync

STREAM = "source_documents_to_codat"


class NotFromCodat(ForwardingSource[DocumentItem]):
    """Wraps the Nuntiq document source, dropping documents the Codat pull created."""

    def __init__(self, inner: NuntiqDocumentSource) -> None:
        super().__init__(inner)
        self.dropped = 0

    def wrap(self, items: Iterator[Any]) -> Iterator[Any]:
        for item in items:
            properties = item.metadata.get("properties") or {}
            if properties.get("source") == "codat":
                self.dropped += 1
                continue
            yield item


def run(context: Any) -> dict[str, Any]:
    connector_name = require_config(context, "connector_name")
    settings = settings_from_context(context)
    if len(settings.company_ids) != 1 or not settings.connection_id:
        raise ValueError("config.codat needs exactly one company_id and a connection_id to push to")
    company_id = settings.company_ids[0]
    client = client_from_context(context, settings)
    try:
        source = NotFromCodat(
            NuntiqDocumentSource.for_context(
                context, name=STREAM, document_type=context.get_config("document_type")
            )
        )
        sink = upload_sink(
            context,
            client,
            company_id=company_id,
            connection_id=settings.connection_id,
            ledger_namespace=f"{connector_name}.{STREAM}",
        )
        summary = sync(context, source, sink, connector_name=connector_name, stream=STREAM)
    finally:
        client.close()
    result = sink.result
    return {
        **summary.as_dict(),
        "connector_name": connector_name,
        "company_id": company_id,
        "connection_id": settings.connection_id,
        "uploaded": len(result.uploaded),
        "reconciled": len(result.reconciled),
        "already_delivered": len(result.skipped),
        "upload_requests": result.requests,
        "rejected": [asdict(r) for r in result.rejected],
        "from_codat_skipped": source.dropped,
    }
