"""Pull the files uploaded to Codat by one or more companies into Nuntiq source documents.

Per company, one delta stream (``files_<company id>``): list the company's files, keep
those not yet delivered (per-day summaries next to the document sink's ledger, so a
file listed days behind the cursor still lands), download the archives of their dates,
and upload each file as its own Nuntiq source document, exactly once (the document
sink's delivery ledger survives crashes and reruns). A file refused for safety, or one
its day's archive does not account for, is named under ``refused`` in the company's
result and logged at error; the rest of the run goes on, and later runs try it again. A company that fails
does not stop the others; the run fails at the end naming every failed company, and
only the failed companies' cursors stay where they were.

settings.json::

    "secrets": {"codat_api_key": "..."},
    "config": {
      "connector_name": "codat_files_eu",
      "codat": {
        "server_url": "https://api.codat.io",      # or "sandbox:codat"
        "company_ids": ["8a210b68-..."],
        "local_timezone": "Europe/London",         # for zone-less upload times
        "api_key_secret": "codat_api_key"          # optional, this is the default
      }
    }

Optional ``config.quarantine`` (``false`` = fail fast). Job params: ``since_override``,
``until_override``, ``lookback_days`` (first run), ``quarantine_retry``,
``quarantine_discard``. A file the sink refuses permanently (an upload Nuntiq rejects as
invalid) is quarantined per company stream and retried by later runs.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from adapters.codat import client_from_context, files_source, settings_from_context
from adapters.quarantine import Quarantine
from adapters.records import DocumentItem
from adapters.runtime import require_config
from adapters.sinks import DocumentSink
from adapters.sync import sync

DOCUMENT_TYPE = "codat_file"


def stream_name(company_id: str) -> str:
    return f"files_{company_id}"


def upload_fields(item: DocumentItem) -> Mapping[str, Any]:
    """Form fields stored with each document: where it came from (never secrets)."""
    meta = item.metadata
    return {
        "source": "codat",
        "document_type": DOCUMENT_TYPE,
        "external_reference": item.key,
        "company_id": str(meta.get("company_id") or ""),
        "source_type": str(meta.get("source_type") or ""),
        "uploaded": str(meta.get("uploaded") or ""),
        "display_name": str(meta.get("display_name") or ""),
    }


def run(context: Any) -> dict[str, Any]:
    connector_name = require_config(context, "connector_name")
    settings = settings_from_context(context)
    if not settings.company_ids:
        raise ValueError("config.codat.company_ids must name at least one Codat company")
    quarantine = Quarantine.for_context(context, connector_name=connector_name)  # checked before any call
    client = client_from_context(context, settings)
    companies: dict[str, Any] = {}
    failures: dict[str, str] = {}
    try:
        for company_id in settings.company_ids:
            stream = stream_name(company_id)
            try:
                sink = DocumentSink.for_context(
                    context, namespace=f"{connector_name}.{stream}", fields=upload_fields
                )
                with files_source(
                    context, client, company_id, stream=stream, delivered_by=sink.ledger
                ) as source:
                    summary = sync(
                        context,
                        source,
                        sink,
                        connector_name=connector_name,
                        stream=stream,
                        quarantine=quarantine,
                    )
                companies[company_id] = {
                    **summary.as_dict(),
                    "uploaded": sink.uploaded,
                    "reconciled": sink.reconciled,
                    "refused": [refusal.describe() for refusal in source.refusals],
                }
            except Exception as exc:
                failures[company_id] = f"{type(exc).__name__}: {exc}"
                context.logger.error(
                    f"codat company {company_id}: sync failed: {exc}",
                    step="codat_pull",
                    detail={"company_id": company_id, "error": type(exc).__name__},
                )
                if len(settings.company_ids) == 1:
                    raise
    finally:
        client.close()
    if failures:
        listed = "; ".join(f"{company}: {error}" for company, error in failures.items())
        raise RuntimeError(
            f"codat pull failed for {len(failures)} of {len(settings.company_ids)} companies: {listed}"
        )
    return {"connector_name": connector_name, "companies": companies}
