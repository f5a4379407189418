"""The process's long-lived objects kept out of the garbage collector's way during a run.

A run allocates and frees a page of records at a time, which makes CPython's collector
run full collections over and over; each one walks every object the process holds,
and in a connector process most of those are the imported modules, classes and
settings that live as long as the process. Measured with the Connect benchmark's
connector (100,000 listings, 4 windows, 26 full collections a run), that walk took
about a fifth of the client's CPU time.

:func:`long_lived_objects_frozen` moves what exists when a run starts into the
collector's permanent generation (``gc.freeze``) and back when the run ends
(``gc.unfreeze``), so nothing is kept from collection for longer than the run: a
cycle that becomes garbage meanwhile is collected after it. Runs that overlap in one
process (threads) share one freeze, undone when the last of them ends. A freeze the
process made itself is left alone.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["long_lived_objects_frozen"]

_lock = threading.Lock()
_active = 0
_ours = False  # whether the freeze in force is this module's (see below)


@contextmanager
def long_lived_objects_frozen() -> Iterator[None]:
    """For the ``with`` block, objects that exist now are skipped by every collection.

    A process that froze objects itself (a pre-forking server does, to keep pages
    shared) keeps its own freeze: nothing is frozen here then, and nothing of its is
    unfrozen at the end. A freeze the process makes *while* a run is going is undone
    with the run's when the last run ends.
    """
    global _active, _ours
    with _lock:
        if _active == 0:
            _ours = gc.get_freeze_count() == 0
            if _ours:
                gc.freeze()
        _active += 1
    try:
        yield
    finally:
        with _lock:
            _active -= 1
            if _active == 0 and _ours:
                gc.unfreeze()
                _ours = False
