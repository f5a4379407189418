"""A large keyset-paged backlog read as adjacent time windows, several at once, in order.

Why: one keyset walk is one request at a time, so at 50 ms per answer 100,000 records
cost 100 round trips end to end. Time windows of a filterable, orderable cursor field
are independent lists, so they can be fetched concurrently; yielding them strictly in
window order keeps the stream in cursor order, so the sync driver's commit rule is
untouched (its watermark only ever covers durably written items, and every item of an
earlier window is yielded before any of a later one).

How a read goes (:meth:`ParallelWindows.keyed_pages`):

1. the first page is read as usual. If the server claims no more than it holds, or
   windows are off, the walk simply continues from there;
2. otherwise one ``ordering(-field)&limit=1`` request names the newest value, and the
   span between the first page's last value and that one is cut into windows of about
   ``per_window`` records each, evenly in time (from the ``Content-Range`` count). The
   last window is open above, so records updated while the run reads land in it;
3. each window is a keyset walk bounded above (:meth:`KeysetReader.keyed` with
   ``until``): it ends on the first page that reaches the next window's start, so a
   window costs about one request and no empty page; only the last one ends on a
   confirmed empty page. The count and the newest value only shape the windows: a
   wrong count costs requests, never records;
4. ``workers`` threads fetch windows ahead of the consumer, at most ``2 * workers``
   windows ahead, each into a queue of two pages, so memory stays flat whatever the
   backlog; a window that holds far more than planned is read through its queue at the
   consumer's pace.

A window's failure is raised when the consumer reaches that window, so everything
before it has been yielded (and may be written and committed) first. Closing the
iterator early (the driver stopping at its time budget or ``until_override``) stops
the workers. After each finished window, :meth:`settled_cursor` names the next
window's start (:class:`~adapters.protocol.Settling`), so a driver checkpoints per
finished window for streams that need it.

Unconfirmed assumption (README): Connect accepts ``ordering(-field)`` on the fields it
can order by. A 400 to that request turns windows off for the run, with a warning.
"""

from __future__ import annotations

import math
import queue
import threading
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from connect.client import ClientError, R

from adapters.connect.paging import Keyed, KeysetReader, fetch_page, get_path
from adapters.connect.query import KeysetPosition, build_query_string, window_filter
from adapters.cursor import CursorError, parse_timestamp
from adapters.runtime import LoggerLike

__all__ = ["MAX_WINDOWS", "ParallelWindows", "WindowPlan", "plan_windows"]

#: more windows than this are never planned, so a wildly inflated count cannot turn one
#: run into millions of requests
MAX_WINDOWS = 10_000
#: pages a window's worker may hold before the consumer reaches that window
PAGES_PER_WINDOW_QUEUE = 2
_POLL_SECONDS = 0.1


@dataclass(frozen=True, slots=True)
class WindowPlan:
    """Windows ``[starts[i], starts[i+1])``, the last one open above."""

    starts: tuple[datetime, ...]

    def bounds(self) -> Iterator[tuple[datetime, datetime | None]]:
        for i, start in enumerate(self.starts):
            yield start, self.starts[i + 1] if i + 1 < len(self.starts) else None


def plan_windows(low: datetime, newest: datetime, remaining: int, per_window: int) -> WindowPlan:
    """About ``remaining / per_window`` windows from ``low``, evenly spaced up to ``newest``.

    The first starts at ``low`` (where the first page ended), the last at or before
    ``newest`` and open above. Even spacing assumes records spread evenly over time;
    where they do not, a window holds more or fewer records than planned, which costs
    requests or parallelism, never records.
    """
    if newest <= low or remaining <= per_window:
        return WindowPlan((low,))
    span = newest - low
    # never narrower than a microsecond, the resolution of the values compared
    count = min(MAX_WINDOWS, math.ceil(remaining / per_window), span // timedelta(microseconds=1))
    step = span / count
    starts = [low]
    for i in range(1, count):
        start = low + step * i
        if start > starts[-1]:
            starts.append(start)
    return WindowPlan(tuple(starts))


class _Done:
    """End of a window's pages."""


class _Failed:
    def __init__(self, error: BaseException) -> None:
        self.error = error


class _Stopped(Exception):
    """The consumer closed the read; a worker gives up its window."""


_DONE = _Done()
_Item = Sequence[Keyed] | _Done | _Failed


class ParallelWindows:
    """The records of one keyset-paged list, read in parallel windows and yielded in order.

    ``make_reader()`` builds a fresh :class:`KeysetReader` (one per window, so request
    counters are per thread); the client behind it must be safe to share between
    threads (``ConnectClient`` keeps its session and last response per thread).
    ``workers`` 1 reads the list as one walk. ``per_window`` is the records a window
    aims at; by default 95% of the page size in force when the windows are planned (after
    any refusal has lowered it), so a window is usually one request.

    Windows are planned only after a *full* first page whose ``Content-Range`` claims
    more: a short first page (a small list, or a server that caps pages below the asked
    size) is read on as one walk, where a cap costs requests but windows would not help
    plan.
    """

    def __init__(
        self,
        make_reader: Callable[[], KeysetReader],
        *,
        workers: int,
        per_window: int | None = None,
        logger: LoggerLike | None = None,
    ) -> None:
        if workers < 1:
            raise ValueError(f"workers must be at least 1, got {workers}")
        if per_window is not None and per_window < 1:
            raise ValueError(f"per_window must be at least 1, got {per_window}")
        self.make_reader = make_reader
        self.workers = workers
        self.per_window = per_window
        self.logger = logger
        self.readers: list[KeysetReader] = []
        #: windows of the last read (0: it was read as one walk)
        self.windows = 0
        self._settled: datetime | None = None
        self._extra_requests = 0

    @property
    def requests(self) -> int:
        """List requests sent by every window of the last read, probes included."""
        return sum(r.requests for r in self.readers) + self._extra_requests

    def settled_cursor(self) -> datetime | None:
        """Every record below this value that the read will yield has been yielded."""
        return self._settled

    def _reader(self) -> KeysetReader:
        reader = self.make_reader()
        self.readers.append(reader)
        return reader

    def keyed_pages(self, base: R) -> Iterator[Sequence[Keyed]]:
        """Pages of ``(record, order value)`` pairs of ``base`` in order, windows in parallel if worth it."""
        self.readers, self.windows, self._settled, self._extra_requests = [], 0, None, 0
        first = self._reader()
        if self.workers == 1:
            yield from first.keyed_pages(base)
            return
        limit = first.page_size.value
        page, position = first.first_page(base)
        if position is None:
            # empty (the end is confirmed by the walk) or an oversized tie group: one walk
            yield from first.keyed_pages(base)
            return
        yield page.items
        self._settled = position.value
        full = len(page.items) >= limit
        newest = self._newest(first, base) if full and page.claims_more else None
        if newest is None or page.total is None:
            yield from first.keyed_pages(base, start=position)
            return
        per_window = self.per_window or max(1, first.page_size.value * 19 // 20)
        plan = plan_windows(position.value, newest, page.total - len(page.items), per_window)
        if len(plan.starts) == 1:
            yield from first.keyed_pages(base, start=position)
            return
        self.windows = len(plan.starts)
        if self.logger is not None:
            self.logger.info(
                f"{first.path}: about {page.total} records from {plan.starts[0].isoformat()} on, "
                f"read as {self.windows} windows, {self.workers} at once",
                step=first.step,
                detail={"windows": self.windows, "workers": self.workers, "claimed_total": page.total},
            )
        yield from self._parallel(base, plan, position)

    # -- the newest value --------------------------------------------------------------------

    def _newest(self, reader: KeysetReader, base: R) -> datetime | None:
        """The greatest order value ``base`` holds (None: unknown, and windows are off)."""
        field = reader.order_fields[0]
        qs = build_query_string(base, ordering=(f"-{field}",))  # one record: a selection saves nothing

        def attempt() -> datetime | None:
            self._extra_requests += 1
            try:
                page = fetch_page(reader.client, reader.path, qs, limit=1, offset=0)
            except ClientError as exc:
                if exc.status_code != 400:
                    raise
                if self.logger is not None:
                    self.logger.warn(
                        f"Connect refused ordering(-{field}) (HTTP 400); reading {reader.path} as one walk",
                        step=reader.step,
                        detail={"ordering": f"-{field}"},
                    )
                return None
            if not page.items:
                return None
            raw = get_path(page.items[0], field)
            try:
                return parse_timestamp(raw) if isinstance(raw, str) else None
            except CursorError:
                return None

        return reader.retrier.call(attempt, step=f"{reader.step}.newest")

    # -- windows in parallel -------------------------------------------------------------------

    def _parallel(self, base: R, plan: WindowPlan, position: KeysetPosition) -> Iterator[Sequence[Keyed]]:
        field = self.readers[0].order_fields[0]
        stop = threading.Event()
        bounds = list(plan.bounds())
        queues: deque[tuple[queue.Queue[_Item], datetime | None]] = deque()
        executor = ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix="connect-window")
        submitted = 0

        def submit() -> None:
            nonlocal submitted
            low, high = bounds[submitted]
            start = position if submitted == 0 else None
            pages: queue.Queue[_Item] = queue.Queue(maxsize=PAGES_PER_WINDOW_QUEUE)
            window_base = base & window_filter(field, low)
            executor.submit(self._fill, self._reader(), window_base, start, high, pages, stop)
            queues.append((pages, high))
            submitted += 1

        # The last window, open above, is read here once every other one is done: its end
        # is a confirmed empty page, and asked while no other window is being read, the
        # confirmation cannot be fooled by answers to other windows between its two asks.
        last_low, _ = bounds.pop()
        try:
            while submitted < len(bounds) and submitted < 2 * self.workers:
                submit()
            while queues:
                pages, high = queues.popleft()
                while True:
                    item = pages.get()
                    if isinstance(item, _Done):
                        break
                    if isinstance(item, _Failed):
                        raise item.error
                    yield item
                if high is not None:
                    self._settled = high
                if submitted < len(bounds):
                    submit()
            yield from self._reader().keyed_pages(base & window_filter(field, last_low))
        finally:
            stop.set()
            executor.shutdown(wait=True, cancel_futures=True)

    @staticmethod
    def _fill(
        reader: KeysetReader,
        base: R,
        start: KeysetPosition | None,
        until: datetime | None,
        pages: queue.Queue[_Item],
        stop: threading.Event,
    ) -> None:
        """One window's pages into its queue (runs in a worker thread)."""

        def put(item: _Item) -> None:
            while True:
                if stop.is_set():
                    raise _Stopped
                try:
                    pages.put(item, timeout=_POLL_SECONDS)
                    return
                except queue.Full:
                    continue

        try:
            for page in reader.keyed_pages(base, start=start, until=until):
                if stop.is_set():
                    return
                put(page)
            put(_DONE)
        except _Stopped:
            return
        except BaseException as exc:  # handed to the consumer, raised in window order
            try:
                put(_Failed(exc))
            except _Stopped:
                return


def describe(windows: ParallelWindows) -> dict[str, Any]:
    """Figures of the last read, for logs and benchmarks."""
    return {"windows": windows.windows, "requests": windows.requests, "workers": windows.workers}
