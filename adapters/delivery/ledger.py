"""The delivery ledger: one row of delivery state per key, kept server-side.

Why: some targets create a new object on every call (``upload_source_documents`` makes a
new source document each time; Codat's upload has no idempotency key either). A sync that
crashes after sending and before recording would send again on the rerun. Connector
containers are ephemeral, so the record of what was sent must live server-side; the
store behind :class:`Ledger` (:mod:`adapters.delivery.store`, Nuntiq custom-data rows by
default) is the one place every connector can reach.

Each key's row holds its state (``pending`` before a send, ``done`` after), the
fingerprint of the version sent (e.g. its sha256), the run that owns a pending mark, the
server's stamp of the first attempt and whether the target answered the latest one. The
protocol that reads and writes these rows is :class:`adapters.delivery.core.ExactlyOnce`.

Batches: :meth:`Ledger.read_many` reads the rows of many keys with one list of their
common key prefix where that prefix is narrower than the whole namespace (the rows are
listed by key, so keys of one source partition, e.g. one Codat company's files of some
days, sit together), and the ``mark_*_many`` methods write many rows in one upsert. A
batch of 40 deliveries therefore costs one read and two writes, not 120 calls.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Protocol, runtime_checkable

from adapters.cursor import CursorError, format_cursor, parse_timestamp
from adapters.delivery.store import LedgerStore, NuntiqCustomData, stamp_of_write
from adapters.nuntiq.classifier import classify_nuntiq_error
from adapters.retry import Retrier, RetryPolicy
from adapters.runtime import ApiLike
from adapters.servertime import ServerClock

__all__ = [
    "DEFAULT_TABLE",
    "EntryState",
    "GuardedSink",
    "Ledger",
    "LedgerBusy",
    "LedgerEntry",
    "PendingMark",
    "RunGuard",
]

DEFAULT_TABLE = "adapters_delivery_ledger"
#: a batch read lists the keys' common prefix only when it is this much narrower than the
#: namespace; otherwise (keys with nothing in common) each key is read on its own
_MIN_PREFIX_BEYOND_NAMESPACE = 1
#: up to this many keys are read one request each rather than by a prefix list
_SINGLE_READS_UP_TO = 2


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
    """Delivery state per key, in ``store`` (a Nuntiq custom-data table by default).

    ``namespace`` separates users of the same table (use the connector name and stream);
    ``retrier`` (a Nuntiq-classified :class:`~adapters.retry.Retrier`) retries the
    default store's idempotent calls; ``now`` is injectable for tests; ``store`` replaces
    the Nuntiq custom-data table with another :class:`~adapters.delivery.store.LedgerStore`
    (then ``api`` may be ``None``).
    """

    def __init__(
        self,
        api: ApiLike | None,
        *,
        namespace: str,
        table: str = DEFAULT_TABLE,
        retrier: Retrier | None = None,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
        clock: ServerClock | None = None,
        store: LedgerStore | None = None,
    ) -> None:
        if not namespace or len(namespace) > 100:
            raise ValueError(f"ledger namespace must be a short non-empty name, got {namespace!r}")
        self.namespace = namespace
        self.table = table
        self.retrier = retrier or _single_attempt()
        if store is None:
            if api is None:
                raise ValueError("a ledger needs the job's api (for Nuntiq custom data) or a store")
            store = NuntiqCustomData(api, table, retrier=self.retrier)
        self.store: LedgerStore = store
        self.now = now
        self.clock = clock or ServerClock()
        self.guard: RunGuard | None = None

    def guard_with(self, guard: RunGuard) -> None:
        """Marks carry ``guard``'s run as owner, every write is fenced, time is the server's."""
        self.guard = guard
        self.clock = guard.clock

    def server_now(self) -> datetime:
        """The server's current time; learned by a harmless clock-row write if nothing told us yet."""
        if not self.clock.known:
            clock_row = (f"{self.namespace}/~clock", {"purpose": "server time"})
            self.clock.observe(stamp_of_write(self.store, [clock_row]))
        return self.clock.now()

    # -- reading ------------------------------------------------------------------------

    def row_key(self, key: str) -> str:
        """The stored row key: readable when short, hashed when it would be too long."""
        row = f"{self.namespace}/{key}"
        if len(row) <= self.store.max_key_length:
            return row
        return f"{self.namespace}/sha256:{hashlib.sha256(key.encode()).hexdigest()}"

    def get(self, key: str) -> LedgerEntry | None:
        return self.read_many([key]).get(key)

    def read_many(self, keys: Iterable[str]) -> dict[str, LedgerEntry]:
        """The entries of ``keys`` that exist (absent keys are missing from the answer).

        One list of the keys' common row-key prefix when that prefix is narrower than
        the namespace (its cost grows with the rows stored under it, not with the
        namespace); each key on its own otherwise, or for one or two keys.
        """
        wanted = {self.row_key(key): key for key in keys}
        if not wanted:
            return {}
        found: dict[str, LedgerEntry] = {}
        common = _common_prefix(list(wanted))
        namespace_prefix = f"{self.namespace}/"
        if (
            len(wanted) > _SINGLE_READS_UP_TO
            and len(common) >= len(namespace_prefix) + _MIN_PREFIX_BEYOND_NAMESPACE
        ):
            prefixes = [common]
        else:
            prefixes = list(wanted)
        for prefix in prefixes:
            for row_key, entry in self._rows(prefix):
                if row_key in wanted:
                    found[wanted[row_key]] = entry
        return found

    def entries(self) -> Iterator[LedgerEntry]:
        """Every entry of this namespace (paged; for inspection and pruning)."""
        for _, entry in self._rows(f"{self.namespace}/"):
            yield entry

    def _rows(self, prefix: str) -> Iterator[tuple[str, LedgerEntry]]:
        for row in self.store.rows(prefix):
            stamp = self.clock.observe(row.stamp)
            if row.key.endswith("/~clock") or row.value is None:
                continue
            entry = _entry(row.value, stamp)
            if entry is not None:
                yield row.key, entry

    # -- writing ------------------------------------------------------------------------

    def mark_pending(
        self,
        key: str,
        *,
        fingerprint: str,
        detail: Mapping[str, Any] | None = None,
        previous: LedgerEntry | None = None,
    ) -> LedgerEntry:
        """Record that a send of ``key`` is about to start (see :meth:`mark_pending_many`)."""
        return self.mark_pending_many([PendingMark(key, fingerprint, detail or {}, previous)])[key]

    def mark_pending_many(self, marks: Sequence[PendingMark]) -> dict[str, LedgerEntry]:
        """Record, in one write, that the sends of ``marks`` are about to start.

        A mark whose ``previous`` is a pending entry of the same fingerprint keeps its
        ``marked_at`` and first server stamp, so a later reconciliation still looks back
        to the first attempt.
        """
        now = self.now()
        owner = self.guard.run_id if self.guard is not None else None
        entries: list[LedgerEntry] = []
        for mark in marks:
            keep = mark.previous
            if keep is not None and (
                keep.fingerprint != mark.fingerprint or keep.state is not EntryState.PENDING
            ):
                keep = None
            entries.append(
                LedgerEntry(
                    key=mark.key,
                    state=EntryState.PENDING,
                    fingerprint=mark.fingerprint,
                    marked_at=keep.marked_at if keep is not None else now,
                    attempts=keep.attempts + 1 if keep is not None else 1,
                    detail=dict(mark.detail),
                    attempted_at=now,
                    owner=owner,
                    marked_at_server=keep.first_server_stamp if keep is not None else None,
                )
            )
        return {entry.key: entry for entry in self._put(entries)}

    def mark_answered(self, entry: LedgerEntry) -> LedgerEntry:
        """Record that ``entry``'s attempt was answered by the target (its request is over)."""
        return self.mark_answered_many([entry])[0]

    def mark_answered_many(self, entries: Sequence[LedgerEntry]) -> list[LedgerEntry]:
        """Record that these attempts were answered by the target (their requests are over).

        A later run then reconciles the marks at once instead of waiting out the upload
        deadline; if the process dies before this write, the marks simply wait.
        """
        return self._put(
            [
                dataclasses.replace(e, answered=True, marked_at_server=e.first_server_stamp, written_at=None)
                for e in entries
            ]
        )

    def mark_done(self, entry: LedgerEntry, result: Mapping[str, Any]) -> LedgerEntry:
        return self.mark_done_many([(entry, result)])[0]

    def mark_done_many(self, done: Sequence[tuple[LedgerEntry, Mapping[str, Any]]]) -> list[LedgerEntry]:
        """Record, in one write, that these deliveries arrived, with what the target answered."""
        return self._put(
            [
                LedgerEntry(
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
                for entry, result in done
            ]
        )

    def forget(self, keys: list[str]) -> None:
        """Delete entries (e.g. to force a re-delivery)."""
        if keys:
            self.store.delete([self.row_key(k) for k in keys])

    def prune(self, before: datetime) -> int:
        """Delete ``done`` entries first marked before ``before``; returns how many.

        The ledger grows by one row per delivery. Pruning is safe for keys the source will
        never yield again; a pruned key that *is* yielded again (a backfill reaching back
        past ``before``) is delivered again, so prune only beyond the furthest backfill
        you would run. Pending entries are kept: they may still need reconciling.
        """
        old = [e.key for e in self.entries() if e.state is EntryState.DONE and e.marked_at < before]
        self.forget(old)
        return len(old)

    def _put(self, entries: Sequence[LedgerEntry]) -> list[LedgerEntry]:
        if not entries:
            return []
        if self.guard is not None:
            self.guard.fence()
        rows = [(self.row_key(e.key), e.to_value()) for e in entries]
        stamp = self.clock.observe(stamp_of_write(self.store, rows))
        return [dataclasses.replace(e, written_at=stamp) for e in entries]


@dataclass(frozen=True, slots=True)
class PendingMark:
    """A send about to start: ``previous`` is the key's pending entry of an earlier attempt, if any."""

    key: str
    fingerprint: str
    detail: Mapping[str, Any] = field(default_factory=dict)
    previous: LedgerEntry | None = None


def _single_attempt() -> Retrier:
    """Ledger calls without retries (for a ledger built without the job's retrier)."""
    return Retrier(classify_nuntiq_error, source="nuntiq", policy=RetryPolicy(max_attempts=1))


def _common_prefix(keys: Sequence[str]) -> str:
    first, last = min(keys), max(keys)
    size = 0
    while size < min(len(first), len(last)) and first[size] == last[size]:
        size += 1
    return first[:size]


def _entry(value: Mapping[str, Any], written_at: datetime | None = None) -> LedgerEntry | None:
    try:
        return LedgerEntry.from_value(value, written_at)
    except (KeyError, ValueError, TypeError, CursorError):
        return None
