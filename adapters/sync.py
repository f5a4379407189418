"""The sync driver: one call runs a source into sinks inside the framework's ``delta_run``.

It owns everything the framework's pull recipe leaves to each connector, so connectors
don't repeat it (or get it subtly wrong):

* ``since`` resolution (:mod:`adapters.window`): ``since_override`` job param > stored
  cursor minus the stream's ``lookback`` > ``now - lookback_days`` (job param, else the
  argument);
* buffering into sinks and flushing every ``flush_every`` items, or sooner when a sink
  holds a full write of rows (its ``rows_per_write``, e.g. a Load's ``batch_size``);
* the watermark (:mod:`adapters.watermark`), computed from items whose flush succeeded
  in *every* sink, never from items merely read;
* the commit rule of :func:`adapters.cursor.next_cursor` (never backwards, never over a
  gap, bounded backfills leave the cursor alone), committed in :func:`format_cursor` form;
* records processed and metadata, both derived from the run's summary
  (:mod:`adapters.summary`: counts, bounds, watermark; never settings or secrets).

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
  ``until_override``) take a lease scope and a delta stream of their own per window
  (:func:`adapters.backfill.backfill_scope`, e.g. ``<stream>.backfill-20250101T000000Z-20250201T000000Z``),
  so they run beside the scheduled job and beside each other (the windows of
  :mod:`adapters.backfill`), while a second start of the *same* window finds it busy.
  Streams whose sinks keep a delivery ledger are the exception: all their runs share the
  stream's one lease scope, because two live runs could send the same document at once
  (see :func:`_lease_scope`);
* the time budget (:mod:`adapters.budget`, ``config.run.time_budget_seconds``): reading
  stops when it is nearly spent (``outcome="partial"``), with the ordered prefix or the
  settled cursor committed;
* checkpoints (:mod:`adapters.checkpoint`): the committable cursor is committed every
  ``checkpoint_every_items`` items or ``checkpoint_every_seconds`` seconds by closing the
  current ``delta_run`` and opening the next (:class:`adapters.segments.DeltaSegments`).
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from adapters import progress
from adapters.backfill import backfill_scope
from adapters.budget import Budget, budget_of
from adapters.checkpoint import CheckpointPolicy
from adapters.cursor import format_cursor, next_cursor, parse_timestamp
from adapters.gcscope import long_lived_objects_frozen
from adapters.lease import LeaseBusy, RunLease
from adapters.ledger import GuardedSink
from adapters.nuntiq.retrier import nuntiq_retrier
from adapters.params import read_job_params
from adapters.progress import EventKind
from adapters.protocol import Ordering, Paged, Refetchable, Settling, Source, close_fetch
from adapters.quarantine import ItemRefusedError, Quarantine, refusal_reason
from adapters.records import RefusedItem, SourceItem
from adapters.runsettings import RunLimits
from adapters.runtime import ContextLike
from adapters.segments import DeltaRunLike, DeltaRunner, DeltaSegments, default_delta_run
from adapters.sinks.base import IsolatingSink, Sink
from adapters.summary import SyncSummary
from adapters.watermark import Watermark
from adapters.window import Placement, RunWindow, WindowRequest

__all__ = [
    "DEFAULT_FLUSH_EVERY",
    "DEFAULT_LOOKBACK_DAYS",
    "DeltaRunLike",
    "DeltaRunner",
    "SyncSummary",
    "sync",
]

DEFAULT_FLUSH_EVERY = 500
DEFAULT_LOOKBACK_DAYS = 7


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
    instead of failing the run on the first one; ``None`` is fail-fast. ``run_settings``
    default to ``config.run``; ``lease`` and ``budget`` to the stream's lease and the
    job's budget built from them (pass your own to share or observe them). The sinks are
    closed on the way out; the source is not (its builder owns it, see ``Source.close``).
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
    request = WindowRequest.from_params(
        read_job_params(context, declared=job_params),
        lookback=source.lookback if lookback is None else lookback,
        default_lookback_days=lookback_days,
    )
    settings = run_settings or RunLimits.from_context(context)
    runner = delta_run or default_delta_run()
    job_budget = budget or budget_of(context) or Budget(settings.time_budget_seconds)
    run_lease = lease or RunLease(
        context.api,
        connector_name=connector_name,
        stream=stream_name,
        ttl=timedelta(seconds=settings.lease_ttl_seconds),
        scope=_lease_scope(request, sink_list),
        started_by=_started_by(context),
        retrier=nuntiq_retrier(context),
        logger=context.logger,
    )
    started = clock()

    def not_run(note: str, outcome: str, seconds: float) -> SyncSummary:
        for sink in sink_list:
            sink.close()
        return SyncSummary.not_run(
            connector_name=connector_name,
            stream=stream_name,
            ordering=source.ordering.value,
            note=note,
            outcome=outcome,
            seconds=seconds,
        )

    if job_budget.winding_down:  # e.g. a later company of a multi-stream job: leave it to the next run
        note = f"the job's time budget ({job_budget.seconds:g}s) was spent before this stream started"
        context.logger.warn(f"{stream_name}: {note}", step="sync_budget", detail={"stream": stream_name})
        return not_run(note, "partial", 0.0)
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
        return not_run(str(busy), "busy", round(clock() - started, 3))
    try:
        settle = settings.upload_deadline_seconds + run_lease.grace
        for sink in sink_list:
            if isinstance(sink, GuardedSink):
                sink.guard_with(run_lease, settle=settle)
        segments = DeltaSegments(
            runner,
            context,
            connector_name,
            f"{stream_name}.{_scope(request)}" if request.bounded_backfill else stream_name,
            cursor_type,
            fence=run_lease.fence,
            log=context.logger,
        )
        run = segments.open()
        try:
            stored = run.lower_bound_cursor
            window = request.resolve(stored, now=now())
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
            with long_lived_objects_frozen():
                summary = driver.run(
                    segments, connector_name=connector_name, stored=stored, window=window, metadata=metadata
                )
        except BaseException as exc:
            segments.fail(exc)
            raise
        return summary.with_run(run_lease.run_id)
    finally:
        run_lease.release()
        for sink in sink_list:
            sink.close()


def _lease_scope(request: WindowRequest, sinks: Sequence[Sink[Any]]) -> str:
    """Whom this run excludes: a backfill window only itself, unless its sinks deliver exactly once.

    A ledger-backed sink (documents) has no compare-and-set under it: two live runs that
    reach the same delivery key at once can both find it free and both send. Different
    windows of one stream can reach the same key (Codat delivers a late-listed file from
    whichever run sees it first), so every run of such a stream, scheduled or backfill,
    takes the stream's one scope and they write one at a time; a busy window exits at
    once and is run again. Load and row sinks upsert by key, so their windows run side
    by side.
    """
    if any(isinstance(sink, GuardedSink) for sink in sinks):
        return "scheduled"
    return _scope(request)


def _scope(request: WindowRequest) -> str:
    """The delta-stream suffix (and lease scope): one per bounded backfill window, else scheduled."""
    if request.bounded_backfill and request.since_override and request.until_override:
        return backfill_scope(request.since_override, request.until_override)
    return "scheduled"


def _started_by(context: ContextLike) -> str:
    """Who started this run, as shown to a run that finds the stream busy (never a secret)."""
    given = context.get_param("started_by")
    if isinstance(given, str) and given.strip():
        return given.strip()[:120]
    return f"{socket.gethostname()} pid {os.getpid()}"


#: items read per READ progress event (a display needs no finer count; one event per item
#: cost more than the rest of the loop's bookkeeping)
_READ_NOTE_EVERY = 100


class _Driver:
    """One run's reading loop: items through the window into the sinks, flushes, checkpoints."""

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
        ordering = source.ordering
        settled = source.settled_cursor if isinstance(source, Settling) else None
        self.watermark = Watermark(
            ordered=ordering is Ordering.CURSOR_ORDERED,
            settled=settled if ordering is Ordering.UNORDERED else None,
        )
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
        segments: DeltaSegments,
        *,
        connector_name: str,
        stored: str | None,
        window: RunWindow,
        metadata: Mapping[str, Any] | None,
    ) -> SyncSummary:
        ordering = self.source.ordering
        notes: list[str] = []
        self.log.info(
            f"{self.stream}: syncing since {window.since_text or 'the beginning'} "
            f"({window.resolved.origin.value})"
            + (f" until {window.until_text}" if window.until_text else ""),
            step="sync_start",
            detail={
                "stream": self.stream,
                "since": window.since_text,
                "since_origin": window.resolved.origin.value,
                "until": window.until_text,
                "stored_cursor": stored,
                "ordering": ordering.value,
            },
        )
        progress.note(EventKind.STREAM_STARTED, stream=self.stream)
        current = stored  # the stored cursor as this run last committed or found it

        def checkpoint() -> None:
            nonlocal current
            ordered = self.watermark.ordered
            if ordered:
                self._flush()  # the ordered prefix counts only once flushed
            target = self._next_cursor(current, window, self.watermark.committable())
            self._since_checkpoint, self._checkpoint_at = 0, self.clock()
            if target is None or (current is not None and target == parse_timestamp(current)):
                return
            if not ordered:
                # A settled cursor covers what was yielded, durable or not: flush only now
                # that it moved, so a source settling per partition keeps its batches full.
                self._flush()
            text = format_cursor(target)
            self.checkpoints += 1
            segments.commit(
                text,
                records=self.passed - self._segment_start,
                metadata={
                    "stream": self.stream,
                    "checkpoint": self.checkpoints,
                    "items_so_far": self.passed,
                    "written": self._written(),
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
        complete = True
        self._retry_quarantined()
        # The inner loop below runs once per item, so what it asks each time is bound to
        # locals first and the batch checks are written out in it. The checks that may
        # wait (lease fence, budget, elapsed time, time-based checkpoint, progress) run
        # once per page that delivered something: a page of a paged source, one item
        # otherwise, where they run in the order and at the items they always did.
        place = window.place
        marks, fence, deliver = self.watermark, self.fence, self._deliver
        budget, clock = self.budget, self.clock
        flush_every = self.flush_every
        # sinks that say how many rows one write carries are flushed when that many wait
        row_limits = [
            (sink, limit) for sink in self.sinks if (limit := getattr(sink, "rows_per_write", None))
        ]
        policy = self.policy if self.policy.enabled else None
        every_items = self.policy.every_items
        max_seconds = None if self.max_duration is None else self.max_duration.total_seconds()
        unreported = 0  # items read but not yet in a READ progress event (sent every _READ_NOTE_EVERY)
        items, pages = _pages_of(self.source, window.since)
        try:
            for page in pages:
                above = False
                delivered = 0  # of this page; the fence goes before its first delivery
                left = len(page)  # the page's last item leaves its checkpoint to the checks below
                for item in page:
                    read += 1
                    unreported += 1
                    left -= 1
                    cursor = item.cursor
                    if cursor is not None:
                        placement = place(cursor)
                        if placement is not Placement.INSIDE:
                            dropped += 1
                            if placement is Placement.ABOVE and marks.ordered:
                                above = True
                                break
                            continue
                        broke = marks.observe(item.key, cursor)
                        if broke is not None:
                            notes.append(broke)
                            self.log.warn(
                                f"{self.stream}: {broke}", step="sync_order", detail={"key": item.key}
                            )
                    if not delivered:
                        fence()  # also the lease's heartbeat while the run is busy reading
                    delivered += 1
                    deliver(item)
                    self.passed += 1
                    self._since_checkpoint += 1
                    self.in_batch += 1
                    marks.handed_to_sinks(cursor)
                    if self.in_batch >= flush_every or (row_limits and _rows_full(row_limits)):
                        self._flush()
                    if left and every_items is not None and self._since_checkpoint >= every_items:
                        checkpoint()
                if unreported >= _READ_NOTE_EVERY:
                    progress.note(EventKind.READ, stream=self.stream, count=unreported)
                    unreported = 0
                if above:
                    break
                if not delivered:  # nothing of this page went to the sinks: nothing to stop or commit
                    continue
                if budget.winding_down or (max_seconds is not None and clock() - self.started >= max_seconds):
                    complete = False
                    break
                if policy is not None and policy.due(
                    items=self._since_checkpoint, seconds=clock() - self._checkpoint_at
                ):
                    checkpoint()
        finally:
            close_fetch(pages)
            close_fetch(items)
            if unreported:
                progress.note(EventKind.READ, stream=self.stream, count=unreported)
        self._flush()

        watermark = self.watermark.final(complete=complete)
        if not complete:
            if self.watermark.ordered:
                notes.append("stopped by the time budget; committed the flushed prefix")
            elif watermark is not None:
                notes.append("stopped by the time budget; committed the source's settled cursor")
            else:
                notes.append("stopped by the time budget; unordered source, cursor not moved")
        committed = self._next_cursor(current, window, watermark)
        before = parse_timestamp(current) if current else None
        cursor_after = current
        new_cursor: str | None = None
        if committed is not None and committed != before:
            cursor_after = new_cursor = format_cursor(committed)
        elif watermark is not None and committed == before and window.is_override:
            notes.append("backfill: stored cursor left unchanged")
        summary = SyncSummary(
            connector_name=connector_name,
            stream=self.stream,
            ordering=ordering.value,
            since=window.since_text,
            since_origin=window.resolved.origin.value,
            until=window.until_text,
            items_read=read,
            items_dropped=dropped,
            sinks={sink.name: sink.counts for sink in self.sinks},
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
        segments.commit(
            new_cursor,
            records=self.passed - self._segment_start,
            metadata={**(metadata or {}), **summary.metadata()},
            final=True,
        )
        progress.note(EventKind.STREAM_FINISHED, stream=self.stream, count=read)
        self.log.info(summary.log_message(), step="sync_done", detail=summary.log_detail())
        return summary

    @staticmethod
    def _next_cursor(current: str | None, window: RunWindow, watermark: datetime | None) -> datetime | None:
        return next_cursor(
            current,
            run_lower_bound=window.since,
            watermark=watermark,
            is_override=window.is_override,
            until_override=window.until,
        )

    def _written(self) -> dict[str, int]:
        return {sink.name: sink.counts.written for sink in self.sinks}

    def _flush(self) -> None:
        if self.in_batch == 0 and not any(s.pending for s in self.sinks):
            return
        self.fence()
        for sink in self.sinks:
            flush_started = self.clock()
            flushed = self._flush_sink(sink)
            progress.note(EventKind.FLUSHED, stream=self.stream, sink=sink.name, count=flushed,
                          seconds=self.clock() - flush_started)
        if self.quarantine is not None:  # quarantine: kept before the batch counts durable
            self.quarantine.flush(items_read=self.passed)
        # Only now, with every sink flushed, do this batch's items count as durable.
        self.watermark.flushed()
        self.in_batch = 0
        self.log.info(
            f"{self.stream}: flushed, {self.passed} items so far",
            step="sync_flush",
            detail={"items": self.passed, "written": self._written()},
        )

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
            close_fetch(items)


def _rows_full(limits: Sequence[tuple[Sink[Any], int]]) -> bool:
    """Whether a sink holds as many pending rows as one of its writes carries.

    A loop rather than ``any(...)``: it is asked once per item, and a generator per call
    costs more than the check.
    """
    for sink, limit in limits:  # noqa: SIM110
        if sink.pending >= limit:
            return True
    return False


def _pages_of(source: Source[Any], since: datetime | None) -> tuple[Iterable[Any], Iterable[Sequence[Any]]]:
    """The source's items as pages: its own (:class:`Paged`), or one item each.

    Returns the item iterator too (the pages themselves for a paged source), so the
    driver can close the source's generator as soon as it stops reading.
    """
    if isinstance(source, Paged):
        pages = source.fetch_pages_since(since)
        return pages, pages
    items = source.fetch_since(since)
    return items, ((item,) for item in items)

