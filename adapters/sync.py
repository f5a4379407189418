"""The sync driver: one call runs a source into sinks inside the framework's ``delta_run``.

It owns everything the framework's pull recipe leaves to each connector, so connectors
don't repeat it (or get it subtly wrong):

* ``since`` resolution: ``since_override`` job param > stored cursor minus the stream's
  ``lookback`` > ``now - lookback_days`` (job param, else the argument);
* buffering into sinks and flushing every ``flush_every`` items;
* the watermark, computed from items whose flush succeeded in *every* sink, never from
  items merely read;
* the commit rule of :func:`adapters.cursor.next_cursor` (never backwards, never over a
  gap, bounded backfills leave the cursor alone), committed in :func:`format_cursor` form;
* records processed and metadata (counts, bounds, watermark: never settings or secrets).

What the source's :class:`~adapters.protocol.Ordering` changes:

``CURSOR_ORDERED``
    Any prefix of the stream is complete, so with ``until_override`` the driver stops
    reading at the first item past the bound, and with ``max_duration`` it may stop
    early and still commit the watermark of what was flushed. If the source yields an
    item older than the one before it, the driver logs a warning and treats the run as
    ``UNORDERED`` from then on.
``UNORDERED``
    Only a finished run is complete: items past ``until_override`` are dropped but
    reading continues, and a run stopped by ``max_duration`` commits nothing.
``FULL_SCAN``
    The source cannot filter; the driver drops items below ``since`` (and above
    ``until_override``) itself, so sinks only see what changed. Otherwise as UNORDERED.

For every ordering, items below ``since`` are dropped (they were covered before), items
without a cursor go to the sinks but never move the watermark. On any exception the
run fails through ``delta_run`` and the stored cursor stays at the last checkpoint;
nothing is swallowed.

With ``quarantine`` (:class:`adapters.quarantine.Quarantine`), an item refused
permanently (a :class:`~adapters.records.RefusedItem` from the source, a sink's
refusal in ``add()``, rows a Load rejects on flush) is kept in quarantine instead of
failing the run; the quarantine is flushed with the sinks, so such an item counts as
durable once it is kept. Quarantined items are retried first, through the source's
``refetch()``. All of it sits in the ``_Driver`` methods marked "quarantine".

Around that, three small units that keep overlapping, overrunning and late-failing
runs safe (each in its own module, composed here):

* the run lease (:mod:`adapters.lease`): taken before the first ``delta_run`` starts,
  so a second run of the stream neither writes nor disturbs the first one's delta run;
  it returns an ``outcome="busy"`` summary instead. Every add, flush and commit is
  fenced by it, and sinks that keep a delivery ledger are bound to it
  (:class:`~adapters.ledger.GuardedSink`). Bounded backfills (``since_override`` with
  ``until_override``) take a lease scope and a delta stream (``<stream>.backfill``) of
  their own, so they run beside the scheduled job;
* the time budget (:mod:`adapters.budget`, ``config.run.time_budget_seconds``): reading
  stops when it is nearly spent (``outcome="partial"``), with the ordered prefix or the
  settled cursor committed;
* checkpoints (:mod:`adapters.checkpoint`): the committable cursor is committed every
  ``checkpoint_every_items`` items or ``checkpoint_every_seconds`` seconds by closing the
  current ``delta_run`` and opening the next (:class:`_DeltaSegments`).
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from adapters import progress
from adapters.budget import Budget, budget_of
from adapters.checkpoint import CheckpointPolicy
from adapters.cursor import (
    CursorError,
    ResolvedSince,
    format_cursor,
    next_cursor,
    parse_timestamp,
    resolve_since,
)
from adapters.lease import LeaseBusy, LeaseLost, RunLease
from adapters.ledger import GuardedSink
from adapters.nuntiq.retrier import nuntiq_retrier
from adapters.params import read_job_params
from adapters.progress import EventKind
from adapters.protocol import Ordering, Refetchable, Settling, Source
from adapters.quarantine import ItemRefusedError, Quarantine, refusal_reason
from adapters.records import RefusedItem, SourceItem
from adapters.runsettings import RunLimits
from adapters.runtime import ContextLike, LoggerLike
from adapters.sinks.base import IsolatingSink, Sink

__all__ = ["DEFAULT_FLUSH_EVERY", "DEFAULT_LOOKBACK_DAYS", "DeltaRunLike", "SyncSummary", "sync"]

DEFAULT_FLUSH_EVERY = 500
DEFAULT_LOOKBACK_DAYS = 7


class DeltaRunLike(Protocol):
    """The handle ``delta_run`` yields (framework surface)."""

    @property
    def lower_bound_cursor(self) -> str | None: ...

    def set_new_cursor(self, cursor: str) -> None: ...

    def set_records_processed(self, count: int) -> None: ...

    def set_metadata(self, metadata: dict[str, Any]) -> None: ...


DeltaRunner = Callable[..., AbstractContextManager[DeltaRunLike]]


@dataclass(frozen=True)
class SyncSummary:
    """What one sync did.

    ``items_read`` counts what the source yielded, ``items_dropped`` those outside the
    run's window (below ``since`` or above ``until_override``). ``written`` is, per sink,
    the items that are durable in it after this run (including ones a sink found already
    written, which ``skipped`` also counts). ``watermark`` is the greatest cursor among
    durable items; ``cursor_after`` what is stored now. ``complete`` is False when
    ``max_duration`` or the time budget stopped the run early.

    ``outcome``: ``completed``; ``partial`` (stopped by the budget, what was committed is
    in ``cursor_after``); ``busy`` (another live run holds the stream's lease: nothing was
    read or written, ``notes`` says which run and since when). ``checkpoints`` counts the
    intermediate commits; ``run`` is this run's lease id (the owner of its ledger marks).
    """

    connector_name: str
    stream: str
    ordering: str
    since: str | None
    since_origin: str
    until: str | None
    items_read: int
    items_dropped: int
    written: dict[str, int]
    skipped: dict[str, int]
    watermark: str | None
    cursor_before: str | None
    cursor_after: str | None
    complete: bool
    duration_seconds: float
    notes: list[str] = field(default_factory=list)
    #: what the quarantine did (empty without one): see ``Quarantine.report``
    quarantine: dict[str, Any] = field(default_factory=dict)
    outcome: str = "completed"
    checkpoints: int = 0
    run: str | None = None

    @property
    def items_written(self) -> int:
        return sum(self.written.values())

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _default_delta_run() -> DeltaRunner:
    from lib.delta import delta_run  # the framework's; production ships its own lib

    runner: DeltaRunner = delta_run
    return runner


def sync(
    context: ContextLike,
    source: Source[Any],
    sinks: Sink[Any] | Sequence[Sink[Any]],
    *,
    connector_name: str,
    stream: str | None = None,
    lookback: timedelta | None = None,
    lookback_days: int | None = DEFAULT_LOOKBACK_DAYS,
    flush_every: int = DEFAULT_FLUSH_EVERY,
    max_duration: timedelta | None = None,
    metadata: Mapping[str, Any] | None = None,
    delta_run: DeltaRunner | None = None,
    cursor_type: str = "timestamp_utc",
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
    clock: Callable[[], float] = time.monotonic,
    job_params: Iterable[str] = (),
    quarantine: Quarantine | None = None,
    run_settings: RunLimits | None = None,
    lease: RunLease | None = None,
    budget: Budget | None = None,
) -> SyncSummary:
    """Run ``source`` into ``sinks`` as one delta run of ``connector_name``/``stream``.

    ``stream`` defaults to ``source.name``; ``lookback`` to ``source.lookback``.
    ``lookback_days`` is the bootstrap window when no cursor is stored (the
    ``lookback_days`` job param wins; ``None`` = everything). ``metadata`` is merged into
    the run's metadata and must not contain secrets. ``delta_run`` defaults to
    ``lib.delta.delta_run``, imported at call time. ``job_params`` names the connector's
    own job parameters, so near misses of them are refused too (:mod:`adapters.params`).
    ``quarantine`` (from ``Quarantine.for_context``) keeps permanently refused items
    instead of failing the run on the first one; ``None`` is fail-fast. ``run_settings`` default to
    ``config.run``; ``lease`` and ``budget`` to the stream's lease and the job's budget
    built from them (pass your own to share or observe them).
    """
    if flush_every < 1:
        raise ValueError(f"flush_every must be at least 1, got {flush_every}")
    sink_list: list[Sink[Any]] = list(sinks) if isinstance(sinks, Sequence) else [sinks]
    if not sink_list:
        raise ValueError("sync needs at least one sink")
    names = [s.name for s in sink_list]
    if len(set(names)) != len(names):
        raise ValueError(f"sink names must be unique, got {names}")
    stream_name = stream or source.name
    # Parameters and settings are checked before anything is called, so a typo fails fast.
    params = read_job_params(context, declared=job_params)
    override, until = params.since_override, params.until_override
    days = lookback_days if params.lookback_days is None else params.lookback_days
    settings = run_settings or RunLimits.from_context(context)
    if lookback is None:
        lookback = source.lookback
    bounded_backfill = override is not None and until is not None
    runner = delta_run or _default_delta_run()
    job_budget = budget or budget_of(context) or Budget(settings.time_budget_seconds)
    ttl = timedelta(seconds=settings.lease_ttl_seconds)
    run_lease = lease or RunLease(
        context.api,
        connector_name=connector_name,
        stream=stream_name,
        ttl=ttl,
        scope="backfill" if bounded_backfill else "scheduled",
        started_by=_started_by(context),
        retrier=nuntiq_retrier(context),
        logger=context.logger,
    )
    started = clock()
    if job_budget.winding_down:  # e.g. a later company of a multi-stream job: leave it to the next run
        note = f"the job's time budget ({job_budget.seconds:g}s) was spent before this stream started"
        context.logger.warn(f"{stream_name}: {note}", step="sync_budget", detail={"stream": stream_name})
        for sink in sink_list:
            sink.close()
        return _not_run_summary(connector_name, stream_name, source, note, "partial", 0.0)
    try:
        run_lease.acquire()
    except LeaseBusy as busy:
        context.logger.warn(
            f"{stream_name}: {busy}",
            step="lease_busy",
            detail={
                "stream": stream_name,
                "holder_run": busy.holder.run,
                "since": format_cursor(busy.holder.claimed_at),
            },
        )
        for sink in sink_list:
            sink.close()
        return _not_run_summary(
            connector_name, stream_name, source, str(busy), "busy", round(clock() - started, 3)
        )
    try:
        settle = settings.upload_deadline_seconds + run_lease.grace
        for sink in sink_list:
            if isinstance(sink, GuardedSink):
                sink.guard_with(run_lease, settle=settle)
        segments = _DeltaSegments(
            runner,
            context,
            connector_name,
            f"{stream_name}.backfill" if bounded_backfill else stream_name,
            cursor_type,
            fence=run_lease.fence,
            log=context.logger,
        )
        run = segments.open()
        try:
            stored = run.lower_bound_cursor
            resolved = resolve_since(stored, override, lookback=lookback, lookback_days=days, now=now())
            if until is not None and resolved.value is not None and until < resolved.value:
                raise CursorError(
                    f"until_override {format_cursor(until)} is before the run's lower bound "
                    f"{format_cursor(resolved.value)}"
                )
            driver = _Driver(
                context=context,
                source=source,
                sinks=sink_list,
                stream=stream_name,
                flush_every=flush_every,
                max_duration=max_duration,
                clock=clock,
                budget=job_budget,
                checkpoints=CheckpointPolicy.from_settings(settings),
                fence=run_lease.fence,
                quarantine=quarantine,
            )
            summary = driver.run(
                segments,
                connector_name=connector_name,
                stored=stored,
                resolved=resolved,
                until=until,
                metadata=metadata,
            )
        except BaseException as exc:
            segments.fail(exc)
            raise
        return _with_run(summary, run_lease.run_id)
    finally:
        run_lease.release()
        for sink in sink_list:
            sink.close()


def _with_run(summary: SyncSummary, run_id: str) -> SyncSummary:
    values = asdict(summary)
    values["run"] = run_id
    return SyncSummary(**values)


def _started_by(context: ContextLike) -> str:
    """Who started this run, as shown to a run that finds the stream busy (never a secret)."""
    given = context.get_param("started_by")
    if isinstance(given, str) and given.strip():
        return given.strip()[:120]
    return f"{socket.gethostname()} pid {os.getpid()}"


def _not_run_summary(
    connector_name: str, stream: str, source: Source[Any], note: str, outcome: str, seconds: float
) -> SyncSummary:
    """The summary of a sync that read and wrote nothing (``busy``, or no budget left)."""
    return SyncSummary(
        connector_name=connector_name,
        stream=stream,
        ordering=source.ordering.value,
        since=None,
        since_origin="none",
        until=None,
        items_read=0,
        items_dropped=0,
        written={},
        skipped={},
        watermark=None,
        cursor_before=None,
        cursor_after=None,
        complete=False,
        duration_seconds=seconds,
        notes=[note],
        outcome=outcome,
    )


class _DeltaSegments:
    """The run's consecutive ``delta_run`` s: one per checkpoint interval, the lease held throughout.

    A checkpoint completes the current delta run with the committed cursor and opens the
    next; the next run's ``lower_bound_cursor`` must be that cursor. That check both
    recognises a commit whose answer was lost (the call raised, yet the cursor is there)
    and refuses to go on when anything else moved the cursor. Every completion is fenced.
    """

    def __init__(
        self,
        runner: DeltaRunner,
        context: ContextLike,
        connector_name: str,
        stream: str,
        cursor_type: str,
        *,
        fence: Callable[[], None],
        log: LoggerLike,
    ) -> None:
        self.runner = runner
        self.context = context
        self.connector_name = connector_name
        self.stream = stream
        self.cursor_type = cursor_type
        self.fence = fence
        self.log = log
        self._cm: AbstractContextManager[DeltaRunLike] | None = None
        self._run: DeltaRunLike | None = None
        self.opened = 0

    def open(self) -> DeltaRunLike:
        cm = self.runner(self.context, self.connector_name, self.stream, cursor_type=self.cursor_type)
        run = cm.__enter__()
        self._cm, self._run = cm, run
        self.opened += 1
        return run

    @property
    def current(self) -> DeltaRunLike:
        assert self._run is not None, "no delta run is open"
        return self._run

    def commit(self, cursor: str | None, *, records: int, metadata: Mapping[str, Any], final: bool) -> None:
        """Complete the open delta run (fenced); unless ``final``, open the next one and check it."""
        run = self.current
        if cursor is not None:
            run.set_new_cursor(cursor)
        run.set_records_processed(records)
        run.set_metadata(dict(metadata))
        self.fence()
        cm, self._cm, self._run = self._cm, None, None
        assert cm is not None
        try:
            cm.__exit__(None, None, None)
        except Exception as exc:
            if cursor is None:
                if not final:
                    raise
                self.log.warn(
                    f"{self.stream}: completing the delta run failed ({type(exc).__name__}); "
                    "no cursor was to be stored, so nothing is lost",
                    step="delta_complete",
                    detail={"error": type(exc).__name__},
                )
                return
            self._verify_after_lost_answer(cursor, exc, final=final)
            return
        if not final:
            self._expect(self.open(), cursor)

    def _verify_after_lost_answer(self, cursor: str, error: Exception, *, final: bool) -> None:
        """The complete call raised: if the next run starts at our cursor, it was stored after all."""
        run = self.open()
        if not _same_cursor(run.lower_bound_cursor, cursor):
            self.fail(error)
            raise error
        self.log.warn(
            f"{self.stream}: the answer to completing the delta run was lost, but the stored cursor is "
            f"{cursor}: it was completed",
            step="delta_complete",
            detail={"cursor": cursor, "error": type(error).__name__},
        )
        if final:
            self.commit(None, records=0, metadata={"confirms_cursor": cursor}, final=True)

    def _expect(self, run: DeltaRunLike, cursor: str | None) -> None:
        if cursor is not None and not _same_cursor(run.lower_bound_cursor, cursor):
            raise LeaseLost(
                f"{self.stream}: the stored cursor is {run.lower_bound_cursor}, not the {cursor} this run "
                "just committed: another run wrote it; this run stops"
            )

    def fail(self, exc: BaseException) -> None:
        """Fail the open delta run (if any) with ``exc``; the cursor stays at the last checkpoint."""
        cm, self._cm, self._run = self._cm, None, None
        if cm is not None:
            try:
                cm.__exit__(type(exc), exc, exc.__traceback__)
            except BaseException as raised:
                if raised is not exc:
                    raise


def _same_cursor(stored: str | None, expected: str) -> bool:
    if stored is None:
        return False
    try:
        return parse_timestamp(stored) == parse_timestamp(expected)
    except CursorError:
        return stored == expected


class _Driver:
    def __init__(
        self,
        *,
        context: ContextLike,
        source: Source[Any],
        sinks: list[Sink[Any]],
        stream: str,
        flush_every: int,
        max_duration: timedelta | None,
        clock: Callable[[], float],
        budget: Budget,
        checkpoints: CheckpointPolicy,
        fence: Callable[[], None],
        quarantine: Quarantine | None = None,
    ) -> None:
        self.log = context.logger
        self.source = source
        self.sinks = sinks
        self.stream = stream
        self.flush_every = flush_every
        self.max_duration = max_duration
        self.clock = clock
        self.budget = budget
        self.policy = checkpoints
        self.fence = fence
        self.started = clock()
        self.written = {s.name: 0 for s in sinks}
        self.durable: datetime | None = None  # greatest cursor among flushed items
        self.batch_max: datetime | None = None  # greatest cursor among unflushed items
        self.in_batch = 0
        self.passed = 0
        self.quarantine = quarantine
        self.retrying = False  # in the quarantine retry pass
        self.checkpoints = 0
        self._since_checkpoint = 0
        self._checkpoint_at = clock()
        self._segment_start = 0

    def run(
        self,
        segments: _DeltaSegments,
        *,
        connector_name: str,
        stored: str | None,
        resolved: ResolvedSince,
        until: datetime | None,
        metadata: Mapping[str, Any] | None,
    ) -> SyncSummary:
        since = resolved.value
        ordering = self.source.ordering
        ordered = ordering is Ordering.CURSOR_ORDERED
        since_text = format_cursor(since) if since is not None else None
        until_text = format_cursor(until) if until is not None else None
        notes: list[str] = []
        self.log.info(
            f"{self.stream}: syncing since {since_text or 'the beginning'} ({resolved.origin.value})"
            + (f" until {until_text}" if until_text else ""),
            step="sync_start",
            detail={
                "stream": self.stream,
                "since": since_text,
                "since_origin": resolved.origin.value,
                "until": until_text,
                "stored_cursor": stored,
                "ordering": ordering.value,
            },
        )
        progress.note(EventKind.STREAM_STARTED, stream=self.stream)
        current = stored  # the stored cursor as this run last committed or found it

        def committable() -> datetime | None:
            """The cursor this run may store now: everything below it is durably written."""
            if ordered:
                return self.durable
            if isinstance(self.source, Settling) and ordering is Ordering.UNORDERED:
                return self.source.settled_cursor()
            return None

        def checkpoint() -> None:
            nonlocal current
            self._flush()
            target = next_cursor(
                current,
                run_lower_bound=since,
                watermark=committable(),
                is_override=resolved.is_override,
                until_override=until,
            )
            self._since_checkpoint, self._checkpoint_at = 0, self.clock()
            if target is None or (current is not None and target == parse_timestamp(current)):
                return
            text = format_cursor(target)
            self.checkpoints += 1
            segments.commit(
                text,
                records=self.passed - self._segment_start,
                metadata={
                    "stream": self.stream,
                    "checkpoint": self.checkpoints,
                    "items_so_far": self.passed,
                    "written": dict(self.written),
                    "watermark": text,
                },
                final=False,
            )
            self._segment_start = self.passed
            current = text
            self.log.info(
                f"{self.stream}: checkpoint {self.checkpoints}: cursor {text} after {self.passed} items",
                step="sync_checkpoint",
                detail={"checkpoint": self.checkpoints, "cursor": text, "items": self.passed},
            )

        read = dropped = 0
        last: datetime | None = None
        complete = True
        self._retry_quarantined()
        items: Iterable[SourceItem] = self.source.fetch_since(since)
        try:
            for item in items:
                read += 1
                progress.note(EventKind.READ, stream=self.stream, count=1)
                cursor = item.cursor
                if cursor is not None:
                    if since is not None and cursor < since:
                        dropped += 1
                        continue
                    if until is not None and cursor > until:
                        dropped += 1
                        if ordered:
                            break
                        continue
                    if ordered and last is not None and cursor < last:
                        ordered = False
                        note = (
                            f"source yielded {item.key!r} at {format_cursor(cursor)} after "
                            f"{format_cursor(last)}: not in cursor order, watermark kept to the end"
                        )
                        notes.append(note)
                        self.log.warn(f"{self.stream}: {note}", step="sync_order", detail={"key": item.key})
                    last = cursor if last is None or cursor > last else last
                self.fence()  # also the lease's heartbeat while the run is busy reading
                self._deliver(item)
                self.passed += 1
                self.in_batch += 1
                self._since_checkpoint += 1
                if cursor is not None and (self.batch_max is None or cursor > self.batch_max):
                    self.batch_max = cursor
                if self.in_batch >= self.flush_every:
                    self._flush()
                if self._out_of_time():
                    complete = False
                    break
                if self.policy.enabled and self.policy.due(
                    items=self._since_checkpoint, seconds=self.clock() - self._checkpoint_at
                ):
                    checkpoint()
        finally:
            close = getattr(items, "close", None)
            if callable(close):
                close()
        self._flush()

        watermark = committable() if (ordered or not complete) else self.durable
        if not complete:
            if ordered:
                notes.append("stopped by the time budget; committed the flushed prefix")
            elif watermark is not None:
                notes.append("stopped by the time budget; committed the source's settled cursor")
            else:
                notes.append("stopped by the time budget; unordered source, cursor not moved")
        committed = next_cursor(
            current,
            run_lower_bound=since,
            watermark=watermark,
            is_override=resolved.is_override,
            until_override=until,
        )
        before = parse_timestamp(current) if current else None
        cursor_after = current
        new_cursor: str | None = None
        if committed is not None and committed != before:
            cursor_after = new_cursor = format_cursor(committed)
        elif watermark is not None and committed == before and resolved.is_override:
            notes.append("backfill: stored cursor left unchanged")
        skipped = {s.name: s.skipped for s in self.sinks}
        summary = SyncSummary(
            connector_name=connector_name,
            stream=self.stream,
            ordering=self.source.ordering.value,
            since=since_text,
            since_origin=resolved.origin.value,
            until=until_text,
            items_read=read,
            items_dropped=dropped,
            written=dict(self.written),
            skipped=skipped,
            watermark=format_cursor(watermark) if watermark is not None else None,
            cursor_before=stored,
            cursor_after=cursor_after,
            complete=complete,
            duration_seconds=round(self.clock() - self.started, 3),
            notes=notes,
            quarantine=self.quarantine.report() if self.quarantine is not None else {},
            outcome="completed" if complete else "partial",
            checkpoints=self.checkpoints,
        )
        run_metadata: dict[str, Any] = dict(metadata or {})
        run_metadata.update(
            {
                "stream": self.stream,
                "ordering": summary.ordering,
                "lower_bound_used": since_text,
                "since_origin": summary.since_origin,
                "until": until_text,
                "items_read": read,
                "items_dropped": dropped,
                "written": summary.written,
                "skipped": skipped,
                "watermark": summary.watermark,
                "complete": complete,
                "outcome": summary.outcome,
                "checkpoints": self.checkpoints,
            }
        )
        if summary.quarantine:
            run_metadata["quarantine"] = summary.quarantine
        segments.commit(
            new_cursor, records=self.passed - self._segment_start, metadata=run_metadata, final=True
        )
        progress.note(EventKind.STREAM_FINISHED, stream=self.stream, count=read)
        self.log.info(
            f"{self.stream}: done: read {read}, wrote {summary.items_written}, "
            f"cursor {stored or '-'} -> {cursor_after or '-'}",
            step="sync_done",
            detail={
                "read": read,
                "dropped": dropped,
                "written": summary.written,
                "skipped": skipped,
                "watermark": summary.watermark,
                "cursor_before": stored,
                "cursor_after": cursor_after,
                "complete": complete,
                "quarantine": summary.quarantine,
                "outcome": summary.outcome,
                "checkpoints": self.checkpoints,
            },
        )
        return summary

    def _flush(self) -> None:
        if self.in_batch == 0 and not any(s.pending for s in self.sinks):
            return
        self.fence()
        for sink in self.sinks:
            flush_started = self.clock()
            flushed = self._flush_sink(sink)
            self.written[sink.name] += flushed
            progress.note(EventKind.FLUSHED, stream=self.stream, sink=sink.name, count=flushed,
                          seconds=self.clock() - flush_started)
        if self.quarantine is not None:  # quarantine: kept before the batch counts durable
            self.quarantine.flush(items_read=self.passed)
        # Only now, with every sink flushed, do this batch's items count as durable.
        if self.batch_max is not None and (self.durable is None or self.batch_max > self.durable):
            self.durable = self.batch_max
        self.batch_max = None
        self.in_batch = 0
        self.log.info(
            f"{self.stream}: flushed, {self.passed} items so far",
            step="sync_flush",
            detail={"items": self.passed, "written": dict(self.written)},
        )

    def _out_of_time(self) -> bool:
        if self.budget.winding_down:
            return True
        if self.max_duration is None:
            return False
        return self.clock() - self.started >= self.max_duration.total_seconds()

    # -- quarantine ----------------------------------------------------------------------

    def _deliver(self, item: SourceItem) -> None:
        """Hand ``item`` to every sink, or keep it in quarantine if it is refused."""
        quarantine = self.quarantine
        if isinstance(item, RefusedItem):
            if quarantine is None:
                raise ItemRefusedError(f"{self.stream}: the source refused {item.key!r}: {item.reason}")
            quarantine.refuse_item(item, retrying=self.retrying)
            return
        for sink in self.sinks:
            try:
                sink.add(item)
            except Exception as exc:
                reason = refusal_reason(exc) if quarantine is not None else None
                if quarantine is None or reason is None:
                    raise
                quarantine.refuse(
                    item.key, cursor=item.cursor, reason=reason, stage=sink.name, retrying=self.retrying
                )
                return
        if quarantine is not None:
            quarantine.landed(item.key)

    def _flush_sink(self, sink: Sink[Any]) -> int:
        if self.quarantine is not None and isinstance(sink, IsolatingSink):
            result = sink.flush_isolating()
            self.quarantine.refuse_rejections(result.rejected, stage=sink.name, retrying=self.retrying)
            return result.written
        return sink.flush()

    def _retry_quarantined(self) -> None:
        """Before the run proper: fetch the stream's quarantined items again and deliver them.

        Their cursors lie behind the stored one, so they go to the sinks without the
        window and order checks and never move the watermark. The pass ends with a
        flush, so what landed is released before the run reads on.
        """
        if self.quarantine is None:
            return
        wanted = self.quarantine.begin(stream=self.stream, source=self.source.name)
        if not wanted:
            return
        if not isinstance(self.source, Refetchable):
            self.log.info(
                f"{self.stream}: {len(wanted)} quarantined item(s) wait for the source to yield them "
                "again (it cannot fetch by key)",
                step="quarantine",
                detail={"stream": self.stream, "waiting": len(wanted)},
            )
            return
        self.retrying = True
        items = self.source.refetch(wanted)
        try:
            for item in items:
                self._deliver(item)
                self.in_batch += 1
                if self.in_batch >= self.flush_every:
                    self._flush()
            self._flush()
        finally:
            self.retrying = False
            close = getattr(items, "close", None)
            if callable(close):
                close()
