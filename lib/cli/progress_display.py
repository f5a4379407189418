"""What ``run`` shows while a connector works: a live rich display on a terminal, plain lines otherwise.

Both are fed by :class:`RunMeter`, an :mod:`adapters.progress` observer that counts what
the package reports (items read and flushed per stream and sink, responses, bytes,
retries, the server's remaining count). The meter is plain data, so the summary and the
tests read the same figures the display shows.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TextIO

from rich.console import Console, Group, RenderableType
from rich.live import Live
from rich.table import Table
from rich.text import Text

from adapters import progress
from adapters.progress import EventKind, ProgressEvent

__all__ = ["RunMeter", "StreamMeter", "human_bytes", "live_display", "plain_lines", "render", "traffic_lines"]


@dataclass
class StreamMeter:
    name: str
    started: float
    read: int = 0
    written: Counter[str] = field(default_factory=Counter)
    expected: int | None = None  # greatest (read so far + what the server says remains)
    finished: float | None = None

    def elapsed(self, now: float) -> float:
        return max(1e-9, (self.finished or now) - self.started)

    def rate(self, now: float) -> float:
        return self.read / self.elapsed(now)

    def eta(self, now: float) -> float | None:
        if self.expected is None or self.finished is not None:
            return None
        rate = self.rate(now)
        left = max(0, self.expected - self.read)
        return left / rate if rate > 0 else None


class RunMeter:
    """Counts every :class:`~adapters.progress.ProgressEvent` of one run (thread-safe)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self.started = clock()
        self.ended: float | None = None
        self.streams: dict[str, StreamMeter] = {}
        self.current: str | None = None
        self.requests: Counter[str] = Counter()
        self.bytes: Counter[str] = Counter()
        self.retries: Counter[str] = Counter()
        self.flush_seconds = 0.0
        self._lock = threading.Lock()

    def __call__(self, event: ProgressEvent) -> None:
        with self._lock:
            self._count(event)

    def _count(self, event: ProgressEvent) -> None:
        kind = event.kind
        if kind is EventKind.STREAM_STARTED and event.stream:
            self.streams[event.stream] = StreamMeter(event.stream, event.at)
            self.current = event.stream
            return
        stream = self.streams.get(event.stream or self.current or "")
        if kind is EventKind.READ and stream is not None:
            stream.read += event.count
        elif kind is EventKind.FLUSHED and stream is not None and event.sink:
            stream.written[event.sink] += event.count
            self.flush_seconds += event.seconds
        elif kind is EventKind.STREAM_FINISHED and stream is not None:
            stream.finished = event.at
        elif kind is EventKind.RESPONSE:
            source = event.source or "?"
            self.requests[source] += 1
            self.bytes[source] += event.bytes
            if event.remaining is not None and stream is not None and stream.finished is None:
                # The largest server count seen: lookups on other endpoints (a partner
                # prefetch) report smaller totals and must not shrink the stream's.
                estimate = stream.read + event.remaining
                stream.expected = max(stream.expected or 0, estimate)
        elif kind is EventKind.RETRY:
            self.retries[event.source or "?"] += 1

    def finish(self) -> None:
        self.ended = self.clock()

    def phases(self) -> dict[str, float]:
        """Seconds per phase: before the first stream, reading (with mapping and adds),
        flushing into sinks, and after the last stream (delta commit, reports)."""
        end = self.ended if self.ended is not None else self.clock()
        if not self.streams:
            return {"total": end - self.started}
        first = min(s.started for s in self.streams.values())
        last = max(s.finished or end for s in self.streams.values())
        streaming = max(0.0, last - first)
        return {
            "setup": max(0.0, first - self.started),
            "reading": max(0.0, streaming - self.flush_seconds),
            "flushing": self.flush_seconds,
            "finishing": max(0.0, end - last),
            "total": end - self.started,
        }


def human_bytes(size: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} GB"


def _eta_text(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    minutes, secs = divmod(int(seconds + 0.5), 60)
    return f"{minutes}m{secs:02d}s" if minutes else f"{secs}s"


def render(meter: RunMeter) -> RenderableType:
    """The display: one row per stream, then requests, retries and bytes per source."""
    now = meter.clock()
    table = Table(title="progress", title_justify="left", expand=False)
    for column in ("stream", "read", "written", "rate", "server total", "ETA"):
        table.add_column(column, justify="left" if column in ("stream", "written") else "right")
    with meter._lock:
        streams = list(meter.streams.values())
        lines = traffic_lines(meter)
        for s in streams:
            written = ", ".join(f"{sink} {n:,}" for sink, n in s.written.items()) or "-"
            table.add_row(
                s.name + (" (done)" if s.finished is not None else ""),
                f"{s.read:,}",
                written,
                f"{s.rate(now):,.0f}/s",
                f"{s.expected:,}" if s.expected is not None else "-",
                _eta_text(s.eta(now)),
            )
    if not streams:
        table.add_row("(starting)", "-", "-", "-", "-", "-")
    return Group(table, Text("\n".join(lines) if lines else "no requests yet"))


def traffic_lines(meter: RunMeter) -> list[str]:
    """Requests and bytes per host (from the HTTP layers), retries per source (from the
    retry policy, which names sources such as ``connect.listings``, not hosts)."""
    lines = [
        f"{host}: {meter.requests[host]} requests, {human_bytes(meter.bytes[host])}"
        for host in sorted(meter.requests)
    ]
    if meter.retries:
        lines.append("retries: " + ", ".join(f"{k} {v}" for k, v in sorted(meter.retries.items())))
    else:
        lines.append("retries: none")
    return lines


def plain_line(meter: RunMeter) -> str:
    now = meter.clock()
    parts = []
    with meter._lock:
        for s in meter.streams.values():
            written = ",".join(f"{k}={v}" for k, v in s.written.items()) or "0"
            total = f" of ~{s.expected}" if s.expected is not None else ""
            eta = s.eta(now)
            parts.append(
                f"{s.name}: read {s.read}{total}, written {written}, {s.rate(now):.0f}/s"
                + (f", ETA {_eta_text(eta)}" if eta is not None else "")
            )
        requests, retries = sum(meter.requests.values()), sum(meter.retries.values())
    return "progress " + "; ".join(parts or ["starting"]) + f" [{requests} requests, {retries} retries]"


@contextmanager
def live_display(meter: RunMeter, console: Console, refresh_per_second: float = 4) -> Iterator[Live]:
    """Subscribe ``meter`` and redraw :func:`render` until the block ends (final frame kept)."""
    with progress.observing(meter), Live(
        get_renderable=lambda: render(meter),
        console=console,
        refresh_per_second=refresh_per_second,
        redirect_stdout=False,
        redirect_stderr=True,
    ) as live:
        yield live
        meter.finish()
        live.refresh()


@contextmanager
def plain_lines(meter: RunMeter, out: TextIO, every_seconds: float = 2.0) -> Iterator[None]:
    """Subscribe ``meter`` and print a progress line at most every ``every_seconds`` (at
    flushes and stream ends), and one at the end."""
    last = [0.0]

    def observer(event: ProgressEvent) -> None:
        meter(event)
        if event.kind in (EventKind.FLUSHED, EventKind.STREAM_FINISHED):
            now = meter.clock()
            if now - last[0] >= every_seconds or event.kind is EventKind.STREAM_FINISHED:
                last[0] = now
                print(plain_line(meter), file=out, flush=True)

    with progress.observing(observer):
        yield
    meter.finish()
