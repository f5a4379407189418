"""A run lease per (connector, stream): one run writes at a time, and a run that lost it writes nothing.

Why: a connector scheduled every 15 minutes overlaps itself (an overrun, a manual run
beside the scheduled one, a retrying scheduler). Two runs of one stream both upload the
same documents and fight over the cursor. The documented Nuntiq surface has no
compare-and-set, so the lease needs only what it has: upsert and list of custom-data
rows, and the ``updated_at`` timestamp the server writes on every row.

The protocol (table :data:`LEASE_TABLE`, one *claim* row per contender, key
``lease/<connector>/<stream>/<scope>/<run>``):

1. A contender writes its claim. The server stamps it (``updated_at``); that first stamp
   is the claim's place in the queue (``claimed_at``, kept in the row from the next
   heartbeat on).
2. It then lists every claim of the scope. A claim is *live* while its latest heartbeat
   (its ``updated_at``) is within ``ttl`` of the server's current time, and no gap
   between two of its heartbeats was longer than ``ttl`` (a claim that lapsed once stays
   dead, so a paused holder that resumes cannot revive it).
3. The earliest live claim holds the lease. A contender that is not it deletes its claim
   and stops, writing nothing: :class:`LeaseBusy` names the holder and since when.

Why that excludes two holders: of two contenders, the later claim's reader lists after
the earlier claim was acknowledged, so it sees it and yields (this assumes a list sees
every row write acknowledged before the list started). The earlier one may or may not see
the later claim; either way it stays earliest.

Fencing: before every write batch the holder calls :meth:`RunLease.fence`. When the last
confirmation is more than a quarter ``ttl`` old (by the monotonic clock, which keeps
counting while a process is stopped), it heartbeats and lists again, and raises
:class:`LeaseLost` if its claim lapsed or is no longer the earliest live one. A takeover
needs ``ttl`` without a heartbeat, so a write sent within a quarter ``ttl`` of a
confirmation has landed (given :attr:`RunLimits.upload_deadline_seconds`) before anyone
else may hold the lease. The one gap no client can close: a process frozen between its
check and the moment its request leaves the host. :mod:`adapters.ledger` covers that case
for uploads, because pending marks carry their owner run and are reconciled only after
the owner's request deadline passed.

Server time only: expiry compares server stamps with the server's current time as
learned by :class:`~adapters.servertime.ServerClock` from the answer to our own latest
write; the host's wall clock is never read.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, TypeVar
from urllib.parse import quote

from adapters.cursor import format_cursor, parse_timestamp
from adapters.nuntiq.listing import PageLimit, iter_rows
from adapters.nuntiq.shapes import row_stamp, upsert_stamp
from adapters.retry import Retrier
from adapters.runtime import ApiLike, LoggerLike
from adapters.servertime import ServerClock

__all__ = ["LEASE_TABLE", "Claim", "LeaseBusy", "LeaseLost", "RunLease"]

LEASE_TABLE = "adapters_run_lease"
_PATH = f"/v1/custom-data/{LEASE_TABLE}"
_PAGE = 200

T = TypeVar("T")


class LeaseBusy(Exception):
    """Another live run holds the lease: this run wrote nothing and stops."""

    def __init__(self, connector_name: str, stream: str, holder: Claim) -> None:
        self.connector_name = connector_name
        self.stream = stream
        self.holder = holder
        by = f", started by {holder.started_by}" if holder.started_by else ""
        super().__init__(
            f"another run of {connector_name}/{stream} is in progress since "
            f"{format_cursor(holder.claimed_at)}{by} (run {holder.run}); this run wrote nothing"
        )


class LeaseLost(RuntimeError):
    """This run held the lease and lost it (it was paused or cut off too long): it writes nothing more."""


@dataclass(frozen=True, slots=True)
class Claim:
    """One contender's claim row, with the server's stamps."""

    run: str
    scope: str
    claimed_at: datetime
    heartbeat_at: datetime
    previous_heartbeat: datetime | None
    started_by: str

    def live(self, now: datetime, ttl: timedelta) -> bool:
        if self.heartbeat_at < now - ttl:
            return False
        return self.previous_heartbeat is None or self.heartbeat_at - self.previous_heartbeat <= ttl

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> Claim | None:
        value = row.get("value")
        stamp = row_stamp(row)
        if not isinstance(value, Mapping) or not isinstance(stamp, str):
            return None
        try:
            heartbeat = parse_timestamp(stamp)
            claimed = value.get("claimed_at")
            previous = value.get("previous_heartbeat")
            return cls(
                run=str(value["run"]),
                scope=str(value.get("scope") or ""),
                claimed_at=parse_timestamp(claimed) if isinstance(claimed, str) else heartbeat,
                heartbeat_at=heartbeat,
                previous_heartbeat=parse_timestamp(previous) if isinstance(previous, str) else None,
                started_by=str(value.get("started_by") or ""),
            )
        except (KeyError, ValueError):
            return None


class RunLease:
    """The lease of ``connector_name``/``stream`` in ``scope`` for one run.

    ``scope`` separates runs that may go side by side: bounded backfills use their own.
    ``started_by`` says who started the run (shown to a run that finds it busy; never a
    secret). ``retrier`` (Nuntiq-classified) retries the lease's calls: every one of them
    is an idempotent upsert, list or delete. ``clock`` is shared with the ledger, so both
    reason in the server's time.
    """

    def __init__(
        self,
        api: ApiLike,
        *,
        connector_name: str,
        stream: str,
        ttl: timedelta,
        scope: str = "scheduled",
        run_id: str | None = None,
        started_by: str = "",
        retrier: Retrier,
        clock: ServerClock | None = None,
        logger: LoggerLike | None = None,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        if ttl <= timedelta(0):
            raise ValueError(f"lease ttl must be positive, got {ttl}")
        self.api = api
        self.connector_name = connector_name
        self.stream = stream
        self.scope = scope
        self.ttl = ttl
        self.run_id = run_id or str(uuid.uuid4())
        self.started_by = started_by
        self.retrier = retrier
        self.clock = clock or ServerClock(monotonic)
        self.logger = logger
        self._monotonic = monotonic
        self._stream_prefix = f"lease/{quote(connector_name, safe='')}/{quote(stream, safe='')}/"
        self._scope_prefix = f"{self._stream_prefix}{quote(scope, safe='')}/"
        self.key = f"{self._scope_prefix}{quote(self.run_id, safe='')}"
        self._claimed_at: datetime | None = None
        self._last_heartbeat: datetime | None = None
        self._confirmed: float | None = None  # monotonic time a confirmation was started
        self._held = False
        self._lost: str | None = None
        self._page = PageLimit(_PAGE)

    @property
    def held(self) -> bool:
        return self._held and self._lost is None

    @property
    def grace(self) -> float:
        """Seconds a confirmation stays good for: a quarter of the ttl."""
        return self.ttl.total_seconds() / 4

    # -- the protocol -------------------------------------------------------------------

    def acquire(self) -> None:
        """Claim the lease; raises :class:`LeaseBusy` (after withdrawing) if another run holds it."""
        started = self._monotonic()
        self._write()
        claims = self._claims(self._scope_prefix)
        now = self.clock.now()
        live = sorted((c for c in claims if c.live(now, self.ttl)), key=lambda c: (c.claimed_at, c.run))
        holder = live[0] if live else None
        if holder is None or holder.run != self.run_id:
            self._withdraw()
            if holder is None:  # our own claim lapsed between write and read: be conservative
                raise LeaseLost(f"the claim of run {self.run_id} lapsed while it was being made")
            raise LeaseBusy(self.connector_name, self.stream, holder)
        self._held = True
        self._confirmed = started
        self._claimed_at = holder.claimed_at
        dead = [c for c in claims if c.run != self.run_id and not c.live(now, self.ttl)]
        if dead:  # a dead claim can never win again (its gap is on record), so tidy it away
            self._delete([f"{self._scope_prefix}{quote(c.run, safe='')}" for c in dead])

    def fence(self) -> None:
        """Raise :class:`LeaseLost` unless this run still holds the lease (re-checked when due)."""
        if self._lost is not None:
            raise LeaseLost(self._lost)
        if not self._held:
            raise LeaseLost(
                f"run {self.run_id} does not hold the lease of {self.connector_name}/{self.stream}"
            )
        if self._confirmed is not None and self._monotonic() - self._confirmed < self.grace:
            return
        self.confirm()

    def confirm(self) -> None:
        """Heartbeat and check now, whatever the grace says."""
        started = self._monotonic()
        previous = self._last_heartbeat
        stamp = self._write()
        if previous is not None and stamp - previous > self.ttl:
            self._lose(f"its heartbeat lapsed for {(stamp - previous).total_seconds():.0f}s (ttl {self.ttl})")
        now = self.clock.now()
        live = sorted(
            (c for c in self._claims(self._scope_prefix) if c.live(now, self.ttl)),
            key=lambda c: (c.claimed_at, c.run),
        )
        if not live or live[0].run != self.run_id:
            other = f"run {live[0].run} holds it" if live else "no live claim"
            self._lose(f"its claim is no longer the earliest live one ({other})")
        if self._monotonic() - started >= self.grace:
            # the check itself took too long (the process was paused while waiting for the
            # answers): what it saw may be stale, so check again; the gap then shows
            self.confirm()
            return
        self._confirmed = started

    def is_live(self, run_id: str) -> bool:
        """Whether ``run_id`` has a live claim in any scope of this stream (e.g. a pending mark's owner)."""
        if run_id == self.run_id:
            return self.held
        claims = self._claims(self._stream_prefix)
        now = self.clock.now()
        return any(c.run == run_id and c.live(now, self.ttl) for c in claims)

    def release(self) -> None:
        """Give the lease up (delete the claim); a failure here only delays the next run by ``ttl``."""
        if not self._held:
            return
        self._held = False
        try:
            self._withdraw()
        except Exception as exc:  # the claim then simply expires
            if self.logger is not None:
                self.logger.warn(
                    f"could not release the run lease of {self.connector_name}/{self.stream}; "
                    f"it expires in {self.ttl.total_seconds():.0f}s",
                    step="lease",
                    detail={"run": self.run_id, "error": type(exc).__name__},
                )

    # -- rows ---------------------------------------------------------------------------

    def _write(self) -> datetime:
        value: dict[str, Any] = {"run": self.run_id, "scope": self.scope, "started_by": self.started_by}
        if self._claimed_at is not None:
            value["claimed_at"] = format_cursor(self._claimed_at)
        if self._last_heartbeat is not None:
            value["previous_heartbeat"] = format_cursor(self._last_heartbeat)
        data = {"rows": [{"key": self.key, "value": value}]}
        body = self._call(lambda: self.api.put(_PATH, data=data), step="lease_write")
        stamp = self.clock.observe(upsert_stamp(body))
        if stamp is None:
            # an answer without a time: the row as listed carries the server's stamp
            mine = [row for row in self._rows(self.key) if row.get("key") == self.key]
            stamp = self.clock.observe(row_stamp(mine[0])) if mine else None
        if stamp is None:
            raise LeaseLost(
                "neither the custom-data upsert answer nor the row read back carries a server "
                "timestamp (updated_at); the run lease needs the server's time (assumption in "
                f"sandbox/nuntiq/API.md), got {str(body)[:120]}"
            )
        if self._claimed_at is None:
            self._claimed_at = stamp
        self._last_heartbeat = stamp
        return stamp

    def _claims(self, prefix: str) -> list[Claim]:
        return [c for c in (Claim.from_row(row) for row in self._rows(prefix)) if c is not None]

    def _rows(self, prefix: str) -> Iterator[Mapping[str, Any]]:
        rows = iter_rows(
            lambda params: self._call(_bind(self.api.get, params), step="lease_read"),
            {"key_prefix": prefix},
            limit=self._page,
            describe=f"lease claims {prefix}",
        )
        for item in rows:
            self.clock.observe(row_stamp(item))
            yield item

    def _withdraw(self) -> None:
        self._delete([self.key])

    def _delete(self, keys: list[str]) -> None:
        data = {"keys": keys}
        self._call(lambda: self.api.delete(_PATH, data=data), step="lease_write")

    def _lose(self, why: str) -> None:
        scope = f"{self.connector_name}/{self.stream}"
        self._lost = f"run {self.run_id} lost the lease of {scope}: {why}; it writes nothing more"
        self._held = False
        raise LeaseLost(self._lost)

    def _call(self, fn: Callable[[], T], *, step: str) -> T:
        return self.retrier.call(fn, step=step)


def _bind(get: Callable[..., Any], params: Mapping[str, Any]) -> Callable[[], Any]:
    return lambda: get(_PATH, params=params)
