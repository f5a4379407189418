"""Incremental-sync bookkeeping: ``delta_run`` and the delta-state helpers.

The Nuntiq service stores one cursor per (customer, connector_name, stream) and a
history of runs. ``delta_run`` brackets a sync: it starts a run (receiving the stored
cursor as ``lower_bound_cursor``), and on a clean exit completes it with the new
cursor; on ANY exception it fails the run -- the stored cursor stays where it was --
and re-raises, so the next scheduled run retries the same window.

The package assumes the framework's ``delta_run`` is resilient the same way, and this
local one is: its start, complete and fail calls are retried on transient failures
(unreachable, 429, 5xx) with short waits; a ``complete`` whose answer was lost is
recognised by reading the run back (it shows ``completed``) instead of being reported as
a failure, and a run already ``completed`` is not failed afterwards.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from lib.api_client import ApiClient, ApiError

RUNS_PATH = "/v1/delta/runs"
STATE_PATH = "/v1/delta/state"

_MAX_ERROR_TEXT = 2000
#: waits between attempts of a delta call (seconds); transient failures only
_WAITS = (0.2, 0.5, 1.0, 2.0, 4.0)


def _transient(exc: ApiError) -> bool:
    return exc.status_code == 0 or exc.status_code == 429 or exc.status_code >= 500


def _retrying(call: Callable[[], Any], *, sleep: Callable[[float], None] = time.sleep) -> Any:
    for wait in _WAITS:
        try:
            return call()
        except ApiError as exc:
            if not _transient(exc):
                raise
            sleep(wait)
    return call()


def _status(api: Any, run_id: str) -> str | None:
    try:
        run = _retrying(lambda: api.get(f"{RUNS_PATH}/{quote(run_id, safe='')}"))
    except ApiError:
        return None
    status = run.get("status") if isinstance(run, dict) else None
    return str(status) if status is not None else None


def _finish(api: Any, run_id: str, verb: str, data: Mapping[str, Any]) -> None:
    """POST complete/fail; a retry that meets a run already in the wanted state succeeded."""
    wanted = "completed" if verb == "complete" else "failed"
    attempt = 0

    def call() -> Any:
        nonlocal attempt
        attempt += 1
        try:
            return api.post(f"{RUNS_PATH}/{quote(run_id, safe='')}/{verb}", data=dict(data))
        except ApiError as exc:
            # a 409 on a retry: the first attempt may have landed and lost its answer
            if exc.status_code == 409 and attempt > 1 and _status(api, run_id) == wanted:
                return None
            if _transient(exc) and _status(api, run_id) == wanted:
                return None  # done already; the answer was lost
            raise

    _retrying(call)


class DeltaRun:
    """The handle ``delta_run`` yields."""

    def __init__(self, run_id: str, connector_name: str, stream: str, lower_bound_cursor: str | None) -> None:
        self.run_id = run_id
        self.connector_name = connector_name
        self.stream = stream
        self.lower_bound_cursor = lower_bound_cursor
        self.new_cursor: str | None = None
        self.records_processed = 0
        self.metadata: dict[str, Any] = {}

    def set_new_cursor(self, cursor: str | datetime) -> None:
        if isinstance(cursor, datetime):
            if cursor.tzinfo is None:
                raise ValueError("set_new_cursor: datetime cursor has no time zone")
            cursor = cursor.astimezone(UTC).isoformat().replace("+00:00", "Z")
        if not isinstance(cursor, str) or not cursor:
            raise ValueError(f"set_new_cursor expects a non-empty string, got {cursor!r}")
        self.new_cursor = cursor

    def set_records_processed(self, count: int) -> None:
        self.records_processed = int(count)

    def set_metadata(self, metadata: Mapping[str, Any]) -> None:
        self.metadata = dict(metadata)


def _redact(context: Any, value: Any) -> Any:
    redact = getattr(context, "redact", None)
    return redact(value) if callable(redact) else value


@contextmanager
def delta_run(
    context: Any, connector_name: str, stream: str, cursor_type: str = "timestamp_utc"
) -> Iterator[DeltaRun]:
    if not connector_name or not stream:
        raise ValueError("delta_run needs a connector_name and a stream")
    api = context.api
    started = _retrying(
        lambda: api.post(
            RUNS_PATH, data={"connector_name": connector_name, "stream": stream, "cursor_type": cursor_type}
        )
    )
    run = DeltaRun(str(started["run_id"]), connector_name, stream, started.get("lower_bound_cursor"))
    runs = getattr(context, "delta_runs", None)
    if isinstance(runs, list):
        runs.append(
            {
                "connector_name": connector_name,
                "stream": stream,
                "run_id": run.run_id,
                "lower_bound_cursor": run.lower_bound_cursor,
            }
        )
    try:
        yield run
    except BaseException as exc:
        text = str(_redact(context, f"{type(exc).__name__}: {exc}"))[:_MAX_ERROR_TEXT]
        try:
            _finish(api, run.run_id, "fail", {"error": text, "records_processed": run.records_processed})
        except ApiError as fail_exc:
            # The original failure matters more; the service will mark the run abandoned
            # when the next run starts.
            context.logger.warn(
                "could not record the failed delta run",
                step="delta",
                detail={"run_id": run.run_id, "error": str(fail_exc)},
            )
        raise
    _finish(
        api,
        run.run_id,
        "complete",
        {
            "new_cursor": run.new_cursor,
            "records_processed": run.records_processed,
            "metadata": _redact(context, run.metadata),
        },
    )


def get_delta_state(api: ApiClient, connector_name: str, stream: str) -> dict[str, Any] | None:
    """The stored state (``cursor``, ``cursor_type``, ``updated_at``, ``last_run``) or ``None``."""
    result = api.get(STATE_PATH, params={"connector_name": connector_name, "stream": stream})
    items = result.get("items", []) if isinstance(result, dict) else []
    return dict(items[0]) if items else None


def list_delta_states(api: ApiClient) -> list[dict[str, Any]]:
    """Every stored delta state of the customer."""
    result = api.get(STATE_PATH)
    return list(result.get("items", [])) if isinstance(result, dict) else []


def reset_delta_state(api: ApiClient, connector_name: str, stream: str) -> bool:
    """Forget the stored cursor; the next run bootstraps. True if there was one."""
    result = api.delete(STATE_PATH, data={"connector_name": connector_name, "stream": stream})
    return bool(result and result.get("deleted"))


def list_delta_runs(
    api: ApiClient, connector_name: str, stream: str, limit: int = 20
) -> list[dict[str, Any]]:
    """The most recent runs of one stream, newest first."""
    result = api.get(
        RUNS_PATH, params={"connector_name": connector_name, "stream": stream, "page": 1, "limit": limit}
    )
    return list(result.get("items", [])) if isinstance(result, dict) else []
