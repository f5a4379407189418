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

Owners and server time (when a :class:`RunGuard`, i.e. the run's lease, is bound with
:meth:`ExactlyOnce.guard_with`): every pending mark carries the run that wrote it. A
pending mark of another run that is still live is never taken for a crashed attempt:
the delivery waits until that run finished it (then it is skipped) or died. A pending
mark is reconciled only once the server's clock is ``settle`` seconds past the mark's own
server stamp, where ``settle`` covers the request deadline Nuntiq is assumed to keep
("Nuntiq finishes or drops a write request within T") plus the lease's fencing grace.
A slow upload therefore has landed or been dropped before anyone asks whether it
arrived; the host's wall clock plays no part. The search for an arrived copy starts at
the first attempt's server stamp. Every mark and every send is fenced by the lease, so a
run that lost its lease stops before writing.

The ledger's own calls (custom-data GET/PUT) may be retried with a Nuntiq ``Retrier``
passed to :class:`Ledger`; they are idempotent. ``send`` is retried only through the
find-before-resend step, so a retried send never duplicates an arrived one.
"""

from __future__ import annotations

import dataclasses
import hashlib
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any, Protocol, TypeVar, runtime_checkable
from urllib.parse import quote

from adapters.cursor import CursorError, format_cursor, parse_timestamp
from adapters.nuntiq.listing import iter_rows, row_value
from adapters.nuntiq.shapes import row_stamp, upsert_stamp
from adapters.retry import Retrier
from adapters.runtime import ApiLike
from adapters.servertime import ServerClock

__all__ = [
    "DEFAULT_TABLE",
    "DeliveryOutcome",
    "DeliveryStatus",
    "EntryState",
    "ExactlyOnce",
    "GuardedSink",
    "Ledger",
    "LedgerBusy",
    "LedgerEntry",
    "RunGuard",
]

DEFAULT_TABLE = "adapters_delivery_ledger"
_MAX_ROW_KEY = 200
_PAGE = 200

T = TypeVar("T")


class RunGuard(Protocol):
    """What the ledger needs of the run's lease (:class:`adapters.lease.RunLease` has it)."""

    @property
    def run_id(self) -> str: ...

    @property
    def clock(self) -> ServerClock: ...

    def fence(self) -> None:
        """Raise unless this run still holds its lease (re-checked when the last check is old)."""
        ...

    def confirm(self) -> None:
        """Raise unless this run still holds its lease, checked with the server now."""
        ...

    def is_live(self, run_id: str) -> bool:
        """Whether the run ``run_id`` still holds a live lease claim."""
        ...


@runtime_checkable
class GuardedSink(Protocol):
    """A sink with a delivery ledger, which the sync driver binds to the run's lease."""

    def guard_with(self, guard: RunGuard, *, settle: float) -> None:
        """Bind ``guard``; ``settle``: server-time seconds before a pending mark may be reconciled."""
        ...


class LedgerBusy(RuntimeError):
    """A delivery is pending by another run that is still live; it was left to that run."""


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
    #: the run whose attempt this is (its lease's run id); None for marks without a lease
    owner: str | None = None
    #: the server's stamp of the first attempt's mark, once known
    marked_at_server: datetime | None = None
    #: the server's stamp of this row as read or written (not stored in the value)
    written_at: datetime | None = None
    #: the latest attempt's request got a definitive answer from the target (it is over,
    #: so whether it arrived can be asked at once, with no settle wait)
    answered: bool = False

    @property
    def first_server_stamp(self) -> datetime | None:
        """Server time of the first attempt: stored, or (for a first attempt) the row's own stamp."""
        if self.marked_at_server is not None:
            return self.marked_at_server
        return self.written_at if self.attempts <= 1 else None

    def to_value(self) -> dict[str, Any]:
        return {
            "owner": self.owner,
            "marked_at_server": format_cursor(self.marked_at_server) if self.marked_at_server else None,
            "key": self.key,
            "state": self.state.value,
            "fingerprint": self.fingerprint,
            "marked_at": format_cursor(self.marked_at),
            "attempts": self.attempts,
            "detail": dict(self.detail),
            "result": dict(self.result),
            "attempted_at": format_cursor(self.attempted_at or self.marked_at),
            "answered": self.answered,
        }

    @classmethod
    def from_value(cls, value: Mapping[str, Any], written_at: datetime | None = None) -> LedgerEntry:
        owner = value.get("owner")
        first = value.get("marked_at_server")
        return cls(
            owner=str(owner) if owner else None,
            marked_at_server=parse_timestamp(first) if isinstance(first, str) and first else None,
            written_at=written_at,
            key=str(value["key"]),
            state=EntryState(value["state"]),
            fingerprint=str(value["fingerprint"]),
            marked_at=parse_timestamp(str(value["marked_at"])),
            attempts=int(value.get("attempts", 1)),
            detail=dict(value.get("detail") or {}),
            result=dict(value.get("result") or {}),
            attempted_at=parse_timestamp(str(value.get("attempted_at") or value["marked_at"])),
            answered=bool(value.get("answered", False)),
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
        clock: ServerClock | None = None,
    ) -> None:
        if not namespace or len(namespace) > 100:
            raise ValueError(f"ledger namespace must be a short non-empty name, got {namespace!r}")
        self.api = api
        self.namespace = namespace
        self.table = table
        self.retrier = retrier
        self.now = now
        self.clock = clock or ServerClock()
        self.guard: RunGuard | None = None
        self._path = f"/v1/custom-data/{quote(table, safe='')}"

    def guard_with(self, guard: RunGuard) -> None:
        """Marks carry ``guard``'s run as owner, every write is fenced, time is the server's."""
        self.guard = guard
        self.clock = guard.clock

    def server_now(self) -> datetime:
        """The server's current time; learned by a harmless clock-row write if nothing told us yet."""
        if not self.clock.known:
            data = {"rows": [{"key": f"{self.namespace}/~clock", "value": {"purpose": "server time"}}]}
            self._observe(self._call(lambda: self.api.put(self._path, data=data), step="ledger_write"))
            if not self.clock.known:  # an upsert answer without a time: listing the row observes it
                list(self._rows(prefix=f"{self.namespace}/~clock"))
        return self.clock.now()

    # -- reading ------------------------------------------------------------------------

    def row_key(self, key: str) -> str:
        """The custom-data row key: readable when short, hashed when it would be too long."""
        row = f"{self.namespace}/{key}"
        if len(row) <= _MAX_ROW_KEY:
            return row
        return f"{self.namespace}/sha256:{hashlib.sha256(key.encode()).hexdigest()}"

    def get(self, key: str) -> LedgerEntry | None:
        row_key = self.row_key(key)
        for row_key_found, value, stamp in self._rows(prefix=row_key):
            if row_key_found == row_key:
                return _entry(value, stamp)
        return None

    def entries(self) -> Iterator[LedgerEntry]:
        """Every entry of this namespace (paged; for inspection and pruning)."""
        for key, value, stamp in self._rows(prefix=f"{self.namespace}/"):
            entry = _entry(value, stamp) if not key.endswith("/~clock") else None
            if entry is not None:
                yield entry

    def _rows(self, *, prefix: str) -> Iterator[tuple[str, Any, datetime | None]]:
        rows = iter_rows(
            lambda params: self._call(_bind(self.api.get, self._path, params), step="ledger_read"),
            {"key_prefix": prefix},
            limit=_PAGE,
            describe=f"ledger {self.namespace}",
        )
        for item in rows:
            yield str(item.get("key")), item.get("value"), self.clock.observe(row_stamp(item))

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
            owner=self.guard.run_id if self.guard is not None else None,
            marked_at_server=keep.first_server_stamp if keep is not None else None,
        )
        return self._put(entry)

    def mark_answered(self, entry: LedgerEntry) -> LedgerEntry:
        """Record that ``entry``'s attempt was answered by the target (its request is over).

        A later run then reconciles the mark at once instead of waiting out the upload
        deadline; if the process dies before this write, the mark simply waits.
        """
        answered = dataclasses.replace(
            entry, answered=True, marked_at_server=entry.first_server_stamp, written_at=None
        )
        return self._put(answered)

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
            owner=entry.owner,
            marked_at_server=entry.first_server_stamp,
        )
        return self._put(done)

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

    def _put(self, entry: LedgerEntry) -> LedgerEntry:
        if self.guard is not None:
            self.guard.fence()
        data = {"rows": [{"key": self.row_key(entry.key), "value": entry.to_value()}]}
        stamp = self._observe(self._call(lambda: self.api.put(self._path, data=data), step="ledger_write"))
        if stamp is None:  # an upsert answer without a time: the row as listed has it
            row_key = self.row_key(entry.key)
            stamp = next((s for k, _, s in self._rows(prefix=row_key) if k == row_key), None)
        return dataclasses.replace(entry, written_at=stamp)

    def _observe(self, body: Any) -> datetime | None:
        return self.clock.observe(upsert_stamp(body))

    def _call(self, fn: Callable[[], T], *, step: str) -> T:
        return self.retrier.call(fn, step=step) if self.retrier is not None else fn()


def _bind(get: Callable[..., Any], path: str, params: Mapping[str, Any]) -> Callable[[], Any]:
    return lambda: get(path, params=params)


def _entry(raw: Any, written_at: datetime | None = None) -> LedgerEntry | None:
    value = row_value(raw)
    if value is None:
        return None
    try:
        return LedgerEntry.from_value(value, written_at)
    except (KeyError, ValueError, TypeError, CursorError):
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
    pending mark is that old, so a request the attempt had sent has been processed or
    dropped by the target. ``answered(exc)`` says whether a failed send got an answer
    from the target that ends its request (e.g. a 503 from the service itself); a retry
    after such an answer asks ``find`` at once instead of settling first. ``skew``: how
    far before the pending mark ``find`` looks when only the host's time of the mark is
    known (rows written before marks had server stamps). With a guard bound
    (:meth:`guard_with`), ages are measured in server time
    and other live runs' pending marks are waited for, not reconciled.
    """

    #: how far before the first attempt's server stamp ``find`` looks (server-internal spread)
    SERVER_MARGIN = timedelta(seconds=5)

    def __init__(
        self,
        ledger: Ledger,
        *,
        settle: float = 2.0,
        skew: timedelta = timedelta(minutes=10),
        sleep: Callable[[float], None] = time.sleep,
        monotonic: Callable[[], float] = time.monotonic,
        owner_wait: float = 600.0,
        answered: Callable[[BaseException], bool] = lambda exc: False,
    ) -> None:
        self.ledger = ledger
        self.answered = answered
        self.settle = settle
        self.skew = skew
        self.sleep = sleep
        self.monotonic = monotonic
        self.owner_wait = owner_wait

    @property
    def guard(self) -> RunGuard | None:
        return self.ledger.guard

    def guard_with(self, guard: RunGuard, *, settle: float, owner_wait: float | None = None) -> None:
        """Bind the run's lease: owner marks, fenced writes, server-time ``settle`` seconds."""
        self.ledger.guard_with(guard)
        self.settle = settle
        if owner_wait is not None:
            self.owner_wait = owner_wait

    def search_from(self, entry: LedgerEntry) -> datetime:
        """The earliest creation time a ``find`` should consider for ``entry``."""
        first = entry.first_server_stamp
        if first is not None:
            return first - self.SERVER_MARGIN
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
        entry = self._wait_for_live_owner(key, entry)
        if entry is not None and entry.fingerprint == fingerprint and entry.state is EntryState.DONE:
            return DeliveryOutcome(DeliveryStatus.SKIPPED, entry, entry.result)
        pending = (
            entry
            if entry is not None and entry.state is EntryState.PENDING and entry.fingerprint == fingerprint
            else None
        )
        box: dict[str, LedgerEntry | None] = {"pending": pending}
        # True when this run's own last send got an answer from the target: then that
        # request is over and ``find`` can tell at once whether it arrived
        settled_by_answer = {"value": pending is not None and pending.answered}

        def attempt() -> tuple[DeliveryStatus, Mapping[str, Any]]:
            previous = box["pending"]
            if previous is not None:
                if not (settled_by_answer["value"] and self.guard is not None):
                    self._settle(previous)
                found = find(previous)
                if found is not None:
                    return DeliveryStatus.RECONCILED, found
            box["pending"] = self.ledger.mark_pending(
                key, fingerprint=fingerprint, detail=detail, previous=previous
            )
            if self.guard is not None:
                # checked with the server right before the one write that cannot be undone:
                # a run paused since its last check finds out here, not after sending
                self.guard.confirm()
            try:
                return DeliveryStatus.SENT, send()
            except Exception as exc:
                settled_by_answer["value"] = self.answered(exc)
                marked = box["pending"]
                if settled_by_answer["value"] and marked is not None:
                    box["pending"] = self.ledger.mark_answered(marked)
                raise

        status, result = retrier.call(attempt, step="deliver") if retrier is not None else attempt()
        marked = box["pending"]
        assert marked is not None
        done = self.ledger.mark_done(marked, result)
        return DeliveryOutcome(status, done, result)

    def _wait_for_live_owner(self, key: str, entry: LedgerEntry | None) -> LedgerEntry | None:
        """While another live run owns ``key``'s pending mark, leave it to that run."""
        guard = self.guard
        if guard is None:
            return entry
        started = self.monotonic()
        while (
            entry is not None
            and entry.state is EntryState.PENDING
            and entry.owner is not None
            and entry.owner != guard.run_id
            and guard.is_live(entry.owner)
        ):
            if self.monotonic() - started >= self.owner_wait:
                raise LedgerBusy(
                    f"delivery {key!r} is pending by run {entry.owner}, which is still live after "
                    f"{self.owner_wait:g}s; left to it (nothing sent)"
                )
            self.sleep(1.0)
            entry = self.ledger.get(key)
        return entry

    def _settle(self, entry: LedgerEntry) -> None:
        if self.guard is not None and entry.written_at is not None:
            # server time against the mark's server stamp: never negative, never skewed
            age = max(0.0, (self.ledger.server_now() - entry.written_at).total_seconds())
        else:
            age = (self.ledger.now() - (entry.attempted_at or entry.marked_at)).total_seconds()
        if 0 <= age < self.settle:
            self.sleep(self.settle - age)
