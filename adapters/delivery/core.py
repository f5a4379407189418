"""Exactly-once delivery to targets that create a new object on every call, one batch at a time.

The protocol, per key (state kept by :class:`~adapters.delivery.ledger.Ledger`)::

    done with the same fingerprint    -> skip: already delivered
    pending with the same fingerprint -> a previous attempt may or may not have arrived:
                                         ask the target (``find``) before sending again
    nothing (or another fingerprint)  -> mark pending, send, mark done

A crash before "pending" sends nothing; between "pending" and "done" the ``find``
reconciliation decides; after "done" the key is skipped.

Batches: :meth:`ExactlyOnce.deliver_batch` runs that protocol for many keys with one
ledger read, one pending write and one done write for the whole batch, and sends the
keys in groups (``group_size`` keys per target request: 1 for Nuntiq documents, where a
call makes one document; up to 20 for Codat) with up to ``concurrency`` groups in
flight. A single delivery is a batch of one (:meth:`ExactlyOnce.deliver`).

Owners and server time (when a :class:`~adapters.delivery.ledger.RunGuard`, i.e. the
run's lease, is bound with :meth:`ExactlyOnce.guard_with`): every pending mark carries
the run that wrote it. A pending mark of another run that is still live is never taken
for a crashed attempt: the delivery waits until that run finished it (then it is
skipped) or died. A pending mark is reconciled only once the server's clock is
``settle`` seconds past the mark's own server stamp, where ``settle`` covers the request
deadline Nuntiq is assumed to keep ("Nuntiq finishes or drops a write request within
T") plus the lease's fencing grace. A slow upload has therefore landed or been dropped
before anyone asks whether it arrived; the host's wall clock plays no part. The search
for an arrived copy starts at the first attempt's server stamp.

Fencing: every ledger write is fenced by the lease; after a batch's pending marks the
lease is confirmed with the server (a run paused since its last check finds out there,
before sending anything), and each group's send is fenced again right before it leaves
(the lease re-checks with the server when its last confirmation is older than its grace,
by a monotonic clock that keeps counting while the process is stopped). So a batch is
as strongly fenced as one delivery was: no send leaves later than a grace after a
confirmation of the lease.

``send`` is retried (through the retrier) only behind the find-before-resend step, so a
retried send never duplicates an arrived one. After a send the target *answered*
(``answered(exc)``, e.g. its own 503 or 400), the request is over, so the retry (or a
later run) asks ``find`` at once instead of waiting out ``settle``.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from adapters.delivery.ledger import EntryState, Ledger, LedgerBusy, LedgerEntry, PendingMark, RunGuard
from adapters.retry import Retrier

__all__ = ["Delivery", "DeliveryOutcome", "DeliveryStatus", "ExactlyOnce", "FindArrived", "SendGroup"]

#: target results per key
Results = Mapping[str, Mapping[str, Any]]
#: sends one group of deliveries in one target request; returns each key's result
SendGroup = Callable[[Sequence["Delivery"]], Results]
#: which of these pending attempts provably arrived (key -> result); the rest are sent again
FindArrived = Callable[[Sequence[LedgerEntry]], Results]


class DeliveryStatus(StrEnum):
    SENT = "sent"  # sent in this run
    RECONCILED = "reconciled"  # a previous, unrecorded attempt had arrived: not sent again
    SKIPPED = "skipped"  # already recorded as delivered
    FAILED = "failed"  # the send failed (``error``); its pending mark stays for the next attempt


@dataclass(frozen=True, slots=True)
class Delivery:
    """One thing to deliver: its stable ``key``, the ``fingerprint`` of this version, what to record."""

    key: str
    fingerprint: str
    detail: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class DeliveryOutcome:
    status: DeliveryStatus
    entry: LedgerEntry | None
    result: Mapping[str, Any]
    error: BaseException | None = None


@dataclass
class _Marks:
    """A batch's pending marks as last written, and when (monotonic, before the write) each was."""

    entries: dict[str, LedgerEntry]
    started: dict[str, float]


class ExactlyOnce:
    """Runs the pending -> send -> done protocol of :class:`Ledger` (see the module docstring).

    ``settle`` (seconds): before asking the target about a pending attempt, wait until the
    pending mark is that old. ``answered(exc)`` says whether a failed send got an answer
    from the target that ends its request. ``skew``: how far before the pending mark
    ``find`` looks when only the host's time of the mark is known (rows written before
    marks had server stamps). ``owner_wait``: how long to wait for another live run's
    pending mark before giving the key up to it (:class:`LedgerBusy`).
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
        # the lease and the ledger's clock are not thread-safe: concurrent groups take turns
        self._lock = threading.RLock()

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

    # -- one delivery -------------------------------------------------------------------

    def deliver(
        self,
        key: str,
        *,
        fingerprint: str,
        send: Callable[[], Mapping[str, Any]],
        find: Callable[[LedgerEntry], Mapping[str, Any] | None],
        retrier: Retrier,
        detail: Mapping[str, Any] | None = None,
    ) -> DeliveryOutcome:
        """Deliver ``key`` unless it was already; a batch of one. Raises what the send raised."""

        def send_one(group: Sequence[Delivery]) -> Results:
            return {key: send()}

        def find_one(entries: Sequence[LedgerEntry]) -> Results:
            found = find(entries[0])
            return {key: found} if found is not None else {}

        [outcome] = self.deliver_batch(
            [Delivery(key, fingerprint, detail or {})], send=send_one, find=find_one, retrier=retrier
        )
        if outcome.error is not None:
            raise outcome.error
        return outcome

    # -- a batch ------------------------------------------------------------------------

    def deliver_batch(
        self,
        deliveries: Sequence[Delivery],
        *,
        send: SendGroup,
        find: FindArrived,
        retrier: Retrier,
        group_size: int = 1,
        concurrency: int = 1,
    ) -> list[DeliveryOutcome]:
        """Deliver every one of ``deliveries`` not delivered yet; one outcome each, in order.

        A group whose send fails has a ``FAILED`` outcome carrying the error (its keys'
        pending marks stay, answered or not); the other groups are recorded done all the
        same. Errors of the ledger or the lease itself propagate.
        """
        if group_size < 1 or concurrency < 1:
            raise ValueError(
                f"group_size and concurrency must be at least 1, got {group_size}, {concurrency}"
            )
        keys = [d.key for d in deliveries]
        if len(set(keys)) != len(keys):
            raise ValueError("a batch must not deliver the same key twice")
        entries = self._wait_for_live_owners(self.ledger.read_many(keys))
        outcomes: dict[str, DeliveryOutcome] = {}
        earlier: dict[str, LedgerEntry] = {}  # pending attempts of the same version: reconcile first
        for delivery in deliveries:
            entry = entries.get(delivery.key)
            if entry is None or entry.fingerprint != delivery.fingerprint:
                continue
            if entry.state is EntryState.DONE:
                outcomes[delivery.key] = DeliveryOutcome(DeliveryStatus.SKIPPED, entry, entry.result)
            else:
                earlier[delivery.key] = entry
        done: list[tuple[LedgerEntry, Mapping[str, Any], DeliveryStatus]] = []
        if earlier:
            waiting = [e for e in earlier.values() if not (e.answered and self.guard is not None)]
            self._settle(waiting)
            for key, result in find(list(earlier.values())).items():
                if key in earlier and key not in outcomes:
                    done.append((earlier[key], result, DeliveryStatus.RECONCILED))
                    outcomes[key] = DeliveryOutcome(DeliveryStatus.RECONCILED, earlier[key], result)
        to_send = [d for d in deliveries if d.key not in outcomes]
        if to_send:
            marked = dict.fromkeys((d.key for d in to_send), self.monotonic())  # before the write
            marks = self.ledger.mark_pending_many(
                [PendingMark(d.key, d.fingerprint, d.detail, earlier.get(d.key)) for d in to_send]
            )
            if self.guard is not None:
                # checked with the server right before the writes that cannot be undone:
                # a run paused since its last check finds out here, not after sending
                self.guard.confirm()
            groups = [to_send[i : i + group_size] for i in range(0, len(to_send), group_size)]
            sends = self._run_groups(groups, _Marks(marks, marked), send, find, retrier, concurrency)
            for group, sent in zip(groups, sends, strict=True):
                if isinstance(sent, BaseException):
                    for delivery in group:
                        outcomes[delivery.key] = DeliveryOutcome(
                            DeliveryStatus.FAILED, marks.get(delivery.key), {}, sent
                        )
                    continue
                for delivery in group:
                    status, result = sent[delivery.key]
                    done.append((marks[delivery.key], result, status))  # marks: updated by re-marks
        if done:
            for entry in self.ledger.mark_done_many([(entry, result) for entry, result, _ in done]):
                status = next(s for e, _, s in done if e.key == entry.key)
                outcomes[entry.key] = DeliveryOutcome(status, entry, entry.result)
        return [outcomes[d.key] for d in deliveries]

    def _run_groups(
        self,
        groups: list[list[Delivery]],
        marks: _Marks,
        send: SendGroup,
        find: FindArrived,
        retrier: Retrier,
        concurrency: int,
    ) -> list[dict[str, tuple[DeliveryStatus, Mapping[str, Any]]] | BaseException]:
        def run(group: list[Delivery]) -> dict[str, tuple[DeliveryStatus, Mapping[str, Any]]] | BaseException:
            try:
                return self._send_group(group, marks, send, find, retrier)
            except Exception as exc:  # reported per group; the others still count
                return exc

        workers = min(concurrency, len(groups))
        if workers > 1:
            with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="delivery") as pool:
                return list(pool.map(run, groups))
        return [run(group) for group in groups]

    def _send_group(
        self,
        group: list[Delivery],
        marks: _Marks,
        send: SendGroup,
        find: FindArrived,
        retrier: Retrier,
    ) -> dict[str, tuple[DeliveryStatus, Mapping[str, Any]]]:
        """One group's send through the retrier, looking for an arrived copy before each resend.

        Why a mark may be renewed right before a send: a pending mark is reconciled once it
        is ``settle`` seconds old, which covers a request sent soon after the mark (the
        upload deadline plus the lease's grace). A group that waits its turn behind slow
        groups of its batch would be sent later than that, so when its marks are older
        than a quarter of ``settle`` (below the lease's grace for every valid
        ``config.run``) they are written again, with a fresh server stamp, before it goes.
        """
        results: dict[str, tuple[DeliveryStatus, Mapping[str, Any]]] = {}
        state = {"attempts": 0, "answered": False}
        remaining = list(group)

        def attempt() -> None:
            nonlocal remaining
            if state["attempts"]:
                # the previous attempt may have stored some of the group before failing
                with self._lock:
                    current = [marks.entries[d.key] for d in remaining]
                if not (state["answered"] and self.guard is not None):
                    self._settle(current)
                arrived = find(current)
                for delivery in remaining:
                    if delivery.key in arrived:
                        results[delivery.key] = (DeliveryStatus.RECONCILED, arrived[delivery.key])
                remaining = [d for d in remaining if d.key not in arrived]
                if not remaining:
                    return
                with self._lock:
                    self._remark(marks, remaining)
                    if self.guard is not None:
                        self.guard.confirm()
            state["attempts"] += 1
            with self._lock:
                oldest = min(marks.started[d.key] for d in remaining)
                if self.settle > 0 and self.monotonic() - oldest > self.settle / 4:
                    self._remark(marks, remaining)
                if self.guard is not None:
                    self.guard.fence()
            try:
                sent = send(remaining)
            except Exception as exc:
                state["answered"] = self.answered(exc)
                if state["answered"]:
                    with self._lock:
                        answered = self.ledger.mark_answered_many([marks.entries[d.key] for d in remaining])
                        marks.entries.update({e.key: e for e in answered})
                raise
            for delivery in remaining:
                results[delivery.key] = (DeliveryStatus.SENT, sent[delivery.key])

        retrier.call(attempt, step="deliver")
        return results

    def _remark(self, marks: _Marks, deliveries: Sequence[Delivery]) -> None:
        """Write these deliveries' pending marks again (a new attempt, a fresh server stamp)."""
        started = self.monotonic()
        renewed = self.ledger.mark_pending_many(
            [PendingMark(d.key, d.fingerprint, d.detail, marks.entries[d.key]) for d in deliveries]
        )
        marks.entries.update(renewed)
        marks.started.update(dict.fromkeys(renewed, started))

    # -- waiting ------------------------------------------------------------------------

    def _wait_for_live_owners(self, entries: dict[str, LedgerEntry]) -> dict[str, LedgerEntry]:
        """While another live run owns a pending mark of the batch, leave it to that run."""
        guard = self.guard
        if guard is None:
            return entries
        started = self.monotonic()
        while True:
            live: dict[str, bool] = {}  # owner run -> live, asked once per round
            owned = [e for e in entries.values() if self._owned_elsewhere(e, guard, live)]
            if not owned:
                return entries
            if self.monotonic() - started >= self.owner_wait:
                first = owned[0]
                raise LedgerBusy(
                    f"delivery {first.key!r} is pending by run {first.owner}, which is still live after "
                    f"{self.owner_wait:g}s; left to it (nothing sent)"
                )
            self.sleep(1.0)
            again = self.ledger.read_many([e.key for e in owned])
            for entry in owned:
                if entry.key in again:
                    entries[entry.key] = again[entry.key]
                else:
                    del entries[entry.key]

    @staticmethod
    def _owned_elsewhere(entry: LedgerEntry, guard: RunGuard, live: dict[str, bool]) -> bool:
        owner = entry.owner
        if entry.state is not EntryState.PENDING or owner is None or owner == guard.run_id:
            return False
        if owner not in live:
            live[owner] = guard.is_live(owner)
        return live[owner]

    def _settle(self, entries: Sequence[LedgerEntry]) -> None:
        """Wait until the youngest of ``entries`` is ``settle`` seconds old (server time when guarded)."""
        if not entries:
            return
        waits: list[float] = []
        for entry in entries:
            if self.guard is not None and entry.written_at is not None:
                # server time against the mark's server stamp: never negative, never skewed
                with self._lock:
                    now = self.ledger.server_now()
                age = max(0.0, (now - entry.written_at).total_seconds())
            else:
                age = (self.ledger.now() - (entry.attempted_at or entry.marked_at)).total_seconds()
            if 0 <= age < self.settle:
                waits.append(self.settle - age)
        if waits:
            self.sleep(max(waits))
