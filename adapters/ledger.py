"""The exactly-once delivery ledger (kept under this name; the code is in :mod:`adapters.delivery`).

Reusing it for another target (e.g. uploads to Codat)::

    ledger = Ledger(context.api, namespace=f"codat-push/{connector_name}", retrier=nuntiq)
    once = ExactlyOnce(ledger)
    outcome = once.deliver(
        key=document_id,                      # stable identity of the thing delivered
        fingerprint=sha256_hex,               # identity of this version of it
        send=lambda: upload_to_codat(...),    # returns a JSON-able mapping (ids, dates)
        find=lambda entry: search_codat(entry),  # mapping if it already arrived, else None
        detail={"name": file_name, "size": size},  # kept in the row; never secrets
        retrier=codat_retrier,                # retries send/find for the target's classifier
    )
    outcome.status  # "sent" | "reconciled" | "skipped"

Many deliveries at once: :meth:`ExactlyOnce.deliver_batch` (see :mod:`adapters.delivery.core`).
"""

from adapters.delivery.core import Delivery, DeliveryOutcome, DeliveryStatus, ExactlyOnce
from adapters.delivery.ledger import (
    DEFAULT_TABLE,
    EntryState,
    GuardedSink,
    Ledger,
    LedgerBusy,
    LedgerEntry,
    PendingMark,
    RunGuard,
)

__all__ = [
    "DEFAULT_TABLE",
    "Delivery",
    "DeliveryOutcome",
    "DeliveryStatus",
    "EntryState",
    "ExactlyOnce",
    "GuardedSink",
    "Ledger",
    "LedgerBusy",
    "LedgerEntry",
    "PendingMark",
    "RunGuard",
]
