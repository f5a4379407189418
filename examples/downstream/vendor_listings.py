"""A connector as a downstream project writes it: Connect listings synced into a sink.

It uses only the installed ``nuntiq-adapters`` wheel: settings from ``connect_*`` config
keys, retries from ``config.retry``, and one ``sync()`` call.
"""

from __future__ import annotations

from typing import Any

from adapters.connect import ListingsSource, client_from_context, settings_from_context
from adapters.runtime import ContextLike, require_config
from adapters.sinks.base import Sink
from adapters.sync import DeltaRunner, SyncSummary, sync

STREAM = "listings"


def sync_listings(context: ContextLike, sink: Sink[Any], delta_run: DeltaRunner | None = None) -> SyncSummary:
    settings = settings_from_context(context)
    source = ListingsSource.for_context(context, client_from_context(context, settings), settings)
    name = str(require_config(context, "connector_name"))
    return sync(context, source, sink, connector_name=name, stream=STREAM, delta_run=delta_run)
