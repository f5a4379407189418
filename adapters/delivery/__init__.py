"""Exactly-once delivery, written once: the ledger, its storage, the batch protocol, the spool.

* :mod:`adapters.delivery.store`: the ledger's storage behind one small interface
  (:class:`LedgerStore`); :class:`NuntiqCustomData` is the only code that knows Nuntiq's
  custom-data rows.
* :mod:`adapters.delivery.ledger`: one row of delivery state per key (pending, done,
  owner run, server stamps, answered), read and written in batches.
* :mod:`adapters.delivery.core`: :class:`ExactlyOnce`, the pending -> send -> done
  protocol with find-before-resend, for a batch (one delivery is a batch of one).
* :mod:`adapters.delivery.spool`: read once, hash, keep the bytes that are sent.

Used by the Nuntiq document sink (:mod:`adapters.sinks.documents`) and the Codat
uploads (:mod:`adapters.codat.upload`).
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
from adapters.delivery.spool import ContentMismatch, Spooled, digest, spool
from adapters.delivery.store import LedgerStore, NuntiqCustomData, StoredRow

__all__ = [
    "DEFAULT_TABLE",
    "ContentMismatch",
    "Delivery",
    "DeliveryOutcome",
    "DeliveryStatus",
    "EntryState",
    "ExactlyOnce",
    "GuardedSink",
    "Ledger",
    "LedgerBusy",
    "LedgerEntry",
    "LedgerStore",
    "NuntiqCustomData",
    "PendingMark",
    "RunGuard",
    "Spooled",
    "StoredRow",
    "digest",
    "spool",
]
