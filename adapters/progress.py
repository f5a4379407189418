"""Progress events: what a run is doing, for displays and metrics, never for control flow.

The sync driver reports items read and flushed, the HTTP layers report each response
(its size and, where the server says so, how many items remain), and the retry policy
reports each retry. Anything that wants to show or count them subscribes with
:func:`observing`; with no observer every report is a cheap no-op.

Observers are process-wide (like logging handlers) because the reports come from
threads and from HTTP hooks deep inside SDK clients. An observer that raises is
dropped and the run goes on: a display must never fail a data run.
"""

from __future__ import annotations

import threading
import time
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

__all__ = [
    "EventKind",
    "Observer",
    "ProgressEvent",
    "active",
    "emit",
    "note",
    "observing",
    "parse_content_range",
    "report_response",
]


class EventKind(Enum):
    STREAM_STARTED = "stream_started"
    READ = "read"
    FLUSHED = "flushed"
    STREAM_FINISHED = "stream_finished"
    RESPONSE = "response"
    RETRY = "retry"


@dataclass(frozen=True, slots=True)
class ProgressEvent:
    """One report. Fields not meaningful for a kind keep their defaults.

    ``remaining`` is the server's count of items from the answered page on (Connect's
    ``Content-Range`` ``items a-b/N`` gives ``N - a``); ``seconds`` is the time the
    reported step took (a flush, a response).
    """

    kind: EventKind
    stream: str | None = None
    sink: str | None = None
    source: str | None = None
    count: int = 0
    bytes: int = 0
    remaining: int | None = None
    seconds: float = 0.0
    at: float = field(default_factory=time.monotonic)


Observer = Callable[[ProgressEvent], None]

_lock = threading.Lock()
_observers: list[Observer] = []


def active() -> bool:
    """True when someone listens; hot loops check this before building an event."""
    return bool(_observers)


def emit(event: ProgressEvent) -> None:
    for observer in list(_observers):
        try:
            observer(event)
        except Exception as exc:  # a broken display must not fail the run
            _remove(observer)
            warnings.warn(f"progress observer {observer!r} failed and was removed: {exc!r}", stacklevel=2)


def _remove(observer: Observer) -> None:
    with _lock:
        if observer in _observers:
            _observers.remove(observer)


@contextmanager
def observing(observer: Observer) -> Iterator[Observer]:
    """Subscribe ``observer`` for the duration of the ``with`` block."""
    with _lock:
        _observers.append(observer)
    try:
        yield observer
    finally:
        _remove(observer)


def report_response(source: str, *, size: int, remaining: int | None = None, seconds: float = 0.0) -> None:
    """What an HTTP hook calls for each response (``size`` as declared by Content-Length)."""
    note(EventKind.RESPONSE, source=source, bytes=size, remaining=remaining, seconds=seconds)


def note(kind: EventKind, **fields: Any) -> None:
    """Build and emit an event only when someone listens (the sync driver's one-liner)."""
    if _observers:
        emit(ProgressEvent(kind, **fields))


def parse_content_range(value: str | None) -> int | None:
    """Items from this page on, from ``items <first>-<last>/<total>``; None when unknown."""
    if not value or "/" not in value:
        return None
    span, _, total = value.rpartition("/")
    first = span.split()[-1].split("-")[0] if span.split() else ""
    if not total.strip().isdigit():
        return None
    start = int(first) if first.isdigit() else 0
    return max(0, int(total) - start)
