"""An exactly-once delivery ledger kept server-side, in Nuntiq custom-data rows.

Why: some targets create a new object on every call (``upload_source_documents`` makes a
new source document each time; Codat's upload has no idempotency key either). A sync that
crashes after sending and before recording would send again on the rerun. Connector
containers are ephemeral, so the record of what was sent must live server-side; Nuntiq's
custom-data tables are the one store every connector can reach.

The protocol (one row per delivery key, in table ``table``, row key ``namespace/key``)::

    done with the same fingerprint   -> skip: already delivered
    pending with the same fingerprint-> a previous attempt may or may not have arrived:
                                        ask the target (``find``) before sending again
    nothing (or another fingerprint) -> mark pending, send, mark done

A crash before "pending" sends nothing; between "pending" and "done" the ``find``
reconciliation decides; after "done" the key is skipped. ``find`` looks for the object
created after the pending mark (``LedgerEntry.marked_at`` minus ``skew`` for clock
differences) with the same fingerprint, e.g. same file name and sha256.

Reusing it for another target (e.g. uploads to Codat)::

    ledger = Ledger(context.api, namespace=f"codat-push/{connector_name}")
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

The ledger's own calls (custom-data GET/PUT) may be retried with a Nuntiq ``Retrier``
passed to :class:`Ledger`; they are idempotent. ``send`` is retried only through the
find-before-resend step, so a retried send never duplicates an arrived one.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any, TypeVar
from urllib.parse import quote

from adapters.cursor import format_cursor, parse_timestamp
from adapters.retry import Retrier
from adapters.runtime import ApiLike

__all__ = [
    "DEFAULT_TABLE",
    "DeliveryOutcome",
    "DeliveryStatus",
    "EntryState",
    "ExactlyOnce",
    "Ledger",
    "LedgerEntry",
]

DEFAULT_TABLE = "adapters_delivery_ledger"
_MAX_ROW_KEY = 200
_PAGE = 200

T = TypeVar("T")


class EntryState(StrEnum):
    PENDING = "pending"
    DONE = "done"


@dataclass(frozen=True, slots=True)
class LedgerEntry:
    """One delivery key's state. ``marked_at`` is when the first attempt was marked pending."""

    key: str
    state: EntryState
    fingerprint: str
    marked_at: datetime
    attempts: int = 1
    detail: Mapping[str, Any] = field(default_factory=dict)
    result: Mapping[str, Any] = field(default_factory=dict)
    #: when the latest attempt was marked (``marked_at`` is the first)
    attempted_at: datetime | None = None

    def to_value(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "state": self.state.value,
            "fingerprint": self.fingerprint,
            "marked_at": format_cursor(self.marked_at),
            "attempts": self.attempts,
            "detail": dict(self.detail),
            "result": dict(self.result),
            "attempted_at": format_cursor(self.attempted_at or self.marked_at),
        }

    @classmethod
    def from_value(cls, value: Mapping[str, Any]) -> LedgerEntry:
        return cls(
            key=str(value["key"]),
            state=EntryState(value["state"]),
            fingerprint=str(value["fingerprint"]),
            marked_at=parse_timestamp(str(value["marked_at"])),
            attempts=int(value.get("attempts", 1)),
            detail=dict(value.get("detail") or {}),
            result=dict(value.get("result") or {}),
            attempted_at=parse_timestamp(str(value.get("attempted_at") or value["marked_at"])),
        )


class Ledger:
    """Delivery state per key, stored in the custom-data table ``table``.

    ``namespace`` separates users of the same table (use the connector name and stream);
    ``retrier`` (a Nuntiq-classified :class:`~adapters.retry.Retrier`) retries the
    ledger's own idempotent calls; ``now`` is injectable for tests.
    """

    def __init__(
        self,
        api: ApiLike,
        *,
        namespace: str,
        table: str = DEFAULT_TABLE,
        retrier: Retrier | None = None,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        if not namespace or len(namespace) > 100:
            raise ValueError(f"ledger namespace must be a short non-empty name, got {namespace!r}")
        self.api = api
        self.namespace = namespace
        self.table = table
        self.retrier = retrier
        self.now = now
        self._path = f"/v1/custom-data/{quote(table, safe='')}"

    # -- reading ------------------------------------------------------------------------

    def row_key(self, key: str) -> str:
        """The custom-data row key: readable when short, hashed when it would be too long."""
        row = f"{self.namespace}/{key}"
        if len(row) <= _MAX_ROW_KEY:
            return row
        return f"{self.namespace}/sha256:{hashlib.sha256(key.encode()).hexdigest()}"

    def get(self, key: str) -> LedgerEntry | None:
        row_key = self.row_key(key)
        for row_key_found, value in self._rows(prefix=row_key):
            if row_key_found == row_key:
                return _entry(value)
        return None

    def entries(self) -> Iterator[LedgerEntry]:
        """Every entry of this namespace (paged; for inspection and pruning)."""
        for _, value in self._rows(prefix=f"{self.namespace}/"):
            entry = _entry(value)
            if entry is not None:
                yield entry

    def _rows(self, *, prefix: str) -> Iterator[tuple[str, Any]]:
        page = 1
        while True:
            params: dict[str, Any] = {"key_prefix": prefix, "page": page, "limit": _PAGE}
            body = self._call(_bind(self.api.get, self._path, params), step="ledger_read")
            items = body.get("items", []) if isinstance(body, Mapping) else []
            for item in items:
                yield str(item.get("key")), item.get("value")
            if len(items) < _PAGE:
                return
            page += 1

    # -- writing ------------------------------------------------------------------------

    def mark_pending(
        self,
        key: str,
        *,
        fingerprint: str,
        detail: Mapping[str, Any] | None = None,
        previous: LedgerEntry | None = None,
    ) -> LedgerEntry:
        """Record that a send of ``key`` is about to start.

        If ``previous`` is a pending entry of the same fingerprint its ``marked_at`` is
        kept, so a later reconciliation still looks back to the first attempt.
        """
        now = self.now()
        keep = previous if previous is not None and previous.fingerprint == fingerprint else None
        if keep is not None and keep.state is not EntryState.PENDING:
            keep = None
        entry = LedgerEntry(
            key=key,
            state=EntryState.PENDING,
            fingerprint=fingerprint,
            marked_at=keep.marked_at if keep is not None else now,
            attempts=keep.attempts + 1 if keep is not None else 1,
            detail=dict(detail or {}),
            attempted_at=now,
        )
        self._put(entry)
        return entry

    def mark_done(self, entry: LedgerEntry, result: Mapping[str, Any]) -> LedgerEntry:
        done = LedgerEntry(
            key=entry.key,
            state=EntryState.DONE,
            fingerprint=entry.fingerprint,
            marked_at=entry.marked_at,
            attempts=entry.attempts,
            detail=entry.detail,
            result=dict(result),
            attempted_at=entry.attempted_at,
        )
        self._put(done)
        return done

    def forget(self, keys: list[str]) -> None:
        """Delete entries (e.g. to force a re-delivery)."""
        if keys:
            data = {"keys": [self.row_key(k) for k in keys]}
            self._call(lambda: self.api.delete(self._path, data=data), step="ledger_write")

    def prune(self, before: datetime) -> int:
        """Delete ``done`` entries first marked before ``before``; returns how many.

        The ledger grows by one row per delivery. Pruning is safe for keys the source will
        never yield again; a pruned key that *is* yielded again (a backfill reaching back
        past ``before``) is delivered again, so prune only beyond the furthest backfill
        you would run. Pending entries are kept: they may still need reconciling.
        """
        old = [e.key for e in self.entries() if e.state is EntryState.DONE and e.marked_at < before]
        for start in range(0, len(old), 1000):
            self.forget(old[start : start + 1000])
        return len(old)

    def _put(self, entry: LedgerEntry) -> None:
        data = {"rows": [{"key": self.row_key(entry.key), "value": entry.to_value()}]}
        self._call(lambda: self.api.put(self._path, data=data), step="ledger_write")

    def _call(self, fn: Callable[[], T], *, step: str) -> T:
        return self.retrier.call(fn, step=step) if self.retrier is not None else fn()


def _bind(get: Callable[..., Any], path: str, params: Mapping[str, Any]) -> Callable[[], Any]:
    return lambda: get(path, params=params)


def _entry(value: Any) -> LedgerEntry | None:
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return None
    if not isinstance(value, Mapping):
        return None
    try:
        return LedgerEntry.from_value(value)
    except (KeyError, ValueError, TypeError):
        return None


class DeliveryStatus(StrEnum):
    SENT = "sent"  # sent in this run
    RECONCILED = "reconciled"  # a previous, unrecorded attempt had arrived: not sent again
    SKIPPED = "skipped"  # already recorded as delivered


@dataclass(frozen=True, slots=True)
class DeliveryOutcome:
    status: DeliveryStatus
    entry: LedgerEntry
    result: Mapping[str, Any]


class ExactlyOnce:
    """Runs the pending -> send -> done protocol of :class:`Ledger` for one delivery at a time.

    ``settle`` (seconds): before asking the target about a pending attempt, wait until the
    pending mark is that old, so a request a killed process had fully sent has been
    processed by the target. ``skew``: how far before the pending mark ``find`` should
    look, to absorb clock differences between this host and the target.
    """

    def __init__(
        self,
        ledger: Ledger,
        *,
        settle: float = 2.0,
        skew: timedelta = timedelta(minutes=10),
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.ledger = ledger
        self.settle = settle
        self.skew = skew
        self.sleep = sleep

    def search_from(self, entry: LedgerEntry) -> datetime:
        """The earliest creation time a ``find`` should consider for ``entry``."""
        return entry.marked_at - self.skew

    def deliver(
        self,
        key: str,
        *,
        fingerprint: str,
        send: Callable[[], Mapping[str, Any]],
        find: Callable[[LedgerEntry], Mapping[str, Any] | None],
        detail: Mapping[str, Any] | None = None,
        retrier: Retrier | None = None,
    ) -> DeliveryOutcome:
        """Deliver ``key`` unless it was already; returns what happened and the target's result."""
        entry = self.ledger.get(key)
        if entry is not None and entry.fingerprint == fingerprint and entry.state is EntryState.DONE:
            return DeliveryOutcome(DeliveryStatus.SKIPPED, entry, entry.result)
        pending = (
            entry
            if entry is not None and entry.state is EntryState.PENDING and entry.fingerprint == fingerprint
            else None
        )
        box: dict[str, LedgerEntry | None] = {"pending": pending}

        def attempt() -> tuple[DeliveryStatus, Mapping[str, Any]]:
            previous = box["pending"]
            if previous is not None:
                self._settle(previous)
                found = find(previous)
                if found is not None:
                    return DeliveryStatus.RECONCILED, found
            box["pending"] = self.ledger.mark_pending(
                key, fingerprint=fingerprint, detail=detail, previous=previous
            )
            return DeliveryStatus.SENT, send()

        status, result = retrier.call(attempt, step="deliver") if retrier is not None else attempt()
        marked = box["pending"]
        assert marked is not None
        done = self.ledger.mark_done(marked, result)
        return DeliveryOutcome(status, done, result)

    def _settle(self, entry: LedgerEntry) -> None:
        age = (self.ledger.now() - (entry.attempted_at or entry.marked_at)).total_seconds()
        if 0 <= age < self.settle:
            self.sleep(self.settle - age)
