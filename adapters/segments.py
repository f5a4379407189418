"""The delta runs of one sync: one per checkpoint interval, committed and verified in turn.

The framework's ``delta_run`` stores a cursor when its block completes. A sync that
checkpoints completes one and opens the next at every checkpoint; :class:`DeltaSegments`
does that, and checks that each new run starts at the cursor just committed. That check
both recognises a commit whose answer was lost (the call raised, yet the cursor is there)
and refuses to go on when anything else moved the cursor (another run wrote it). Every
completion is fenced by the run's lease.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager
from typing import Any, Protocol

from adapters.cursor import CursorError, parse_timestamp
from adapters.lease import LeaseLost
from adapters.runtime import ContextLike, LoggerLike

__all__ = ["DeltaRunLike", "DeltaRunner", "DeltaSegments", "default_delta_run"]


class DeltaRunLike(Protocol):
    """The handle ``delta_run`` yields (framework surface)."""

    @property
    def lower_bound_cursor(self) -> str | None: ...

    def set_new_cursor(self, cursor: str) -> None: ...

    def set_records_processed(self, count: int) -> None: ...

    def set_metadata(self, metadata: dict[str, Any]) -> None: ...


DeltaRunner = Callable[..., AbstractContextManager[DeltaRunLike]]


def default_delta_run() -> DeltaRunner:
    from lib.delta import delta_run  # the framework's; production ships its own lib

    runner: DeltaRunner = delta_run
    return runner


class DeltaSegments:
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
