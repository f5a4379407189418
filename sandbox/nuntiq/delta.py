"""``/v1/delta``: per-stream cursors and the history of runs.

Lifecycle: start (returns the stored cursor as ``lower_bound_cursor``) -> complete
(stores ``new_cursor`` when given) or fail (cursor untouched). What a start does while
another run of the stream is ``running`` is not confirmed by any reference, so it is a
variant (``Variants.delta_start``): ``abandon`` marks the running one ``abandoned`` (a
job that crashed without reporting never blocks the next one, and its late completion
is refused with 409 so it cannot overwrite a newer cursor); ``refuse`` answers 409
unless the running one is older than ``stale_run_seconds``; ``allow`` lets both run.
"""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, Field

from sandbox.nuntiq.auth import current_customer, job_token, store_of
from sandbox.nuntiq.errors import NuntiqError
from sandbox.nuntiq.paging import page_window
from sandbox.nuntiq.store import dumps, format_ts, new_id
from sandbox.nuntiq.variants import variants_of

router = APIRouter()


class StartIn(BaseModel):
    connector_name: str = Field(min_length=1, max_length=200)
    stream: str = Field(min_length=1, max_length=200)
    cursor_type: str = Field("timestamp_utc", min_length=1, max_length=50)


class CompleteIn(BaseModel):
    new_cursor: str | None = None
    records_processed: int = Field(0, ge=0)
    metadata: dict[str, Any] = Field(default_factory=dict)


class FailIn(BaseModel):
    error: str = Field("", max_length=10000)
    records_processed: int = Field(0, ge=0)


class StreamIn(BaseModel):
    connector_name: str = Field(min_length=1)
    stream: str = Field(min_length=1)


def run_view(row: sqlite3.Row) -> dict[str, Any]:
    return {
        "run_id": row["run_id"],
        "connector_name": row["connector_name"],
        "stream": row["stream"],
        "cursor_type": row["cursor_type"],
        "status": row["status"],
        "lower_bound_cursor": row["lower_bound_cursor"],
        "new_cursor": row["new_cursor"],
        "records_processed": row["records_processed"],
        "metadata": json.loads(row["metadata"]),
        "error": row["error"],
        "started_at": row["started_at"],
        "finished_at": row["finished_at"],
    }


def _state_view(conn: sqlite3.Connection, customer: str, row: sqlite3.Row) -> dict[str, Any]:
    last = conn.execute(
        "SELECT * FROM delta_runs WHERE customer = ? AND connector_name = ? AND stream = ? "
        "ORDER BY pk DESC LIMIT 1",
        (customer, row["connector_name"], row["stream"]),
    ).fetchone()
    return {
        "connector_name": row["connector_name"],
        "stream": row["stream"],
        "cursor": row["cursor"],
        "cursor_type": row["cursor_type"],
        "updated_at": row["updated_at"],
        "last_run": run_view(last) if last is not None else None,
    }


@router.post("/v1/delta/runs", status_code=201)
def start_run(request: Request, body: StartIn, customer: str = Depends(current_customer)) -> dict[str, Any]:
    store = store_of(request)
    variants = variants_of(request)
    run_id = new_id()
    with store.tx() as conn:
        now = store.now()
        stream_args = (customer, body.connector_name, body.stream)
        if variants.delta_start == "refuse":
            stale = format_ts(
                datetime.now(UTC) + store.offset - timedelta(seconds=variants.stale_run_seconds)
            )
            live = conn.execute(
                "SELECT run_id, started_at FROM delta_runs WHERE customer = ? AND connector_name = ? "
                "AND stream = ? AND status = 'running' AND started_at > ? ORDER BY pk LIMIT 1",
                (*stream_args, stale),
            ).fetchone()
            if live is not None:
                raise NuntiqError(
                    409, f"delta run {live['run_id']} of this stream is running since {live['started_at']}"
                )
        if variants.delta_start != "allow":
            conn.execute(
                "UPDATE delta_runs SET status = 'abandoned', finished_at = ?, error = ? "
                "WHERE customer = ? AND connector_name = ? AND stream = ? AND status = 'running'",
                (now, f"abandoned: run {run_id} started before this one finished", *stream_args),
            )
        state = conn.execute(
            "SELECT cursor FROM delta_state WHERE customer = ? AND connector_name = ? AND stream = ?",
            (customer, body.connector_name, body.stream),
        ).fetchone()
        lower = state["cursor"] if state is not None else None
        conn.execute(
            "INSERT INTO delta_runs (run_id, customer, connector_name, stream, cursor_type, status, "
            "lower_bound_cursor, started_at) VALUES (?, ?, ?, ?, ?, 'running', ?, ?)",
            (run_id, customer, body.connector_name, body.stream, body.cursor_type, lower, now),
        )
        store.bump(conn, customer, "delta_runs_started")
        store.log_write(
            conn, customer, job_token(request), "delta_start", f"{body.connector_name}/{body.stream}"
        )
    return {"run_id": run_id, "lower_bound_cursor": lower, "started_at": now}


def _running(conn: sqlite3.Connection, customer: str, run_id: str) -> sqlite3.Row:
    row = conn.execute(
        "SELECT * FROM delta_runs WHERE customer = ? AND run_id = ?", (customer, run_id)
    ).fetchone()
    if row is None:
        raise NuntiqError(404, f"delta run {run_id!r} not found")
    if row["status"] != "running":
        raise NuntiqError(409, f"delta run {run_id!r} is {row['status']}, not running")
    result: sqlite3.Row = row
    return result


@router.post("/v1/delta/runs/{run_id}/complete")
def complete_run(
    request: Request, run_id: str, body: CompleteIn, customer: str = Depends(current_customer)
) -> dict[str, Any]:
    store = store_of(request)
    with store.tx() as conn:
        run = _running(conn, customer, run_id)
        now = store.now()
        conn.execute(
            "UPDATE delta_runs SET status = 'completed', new_cursor = ?, records_processed = ?, "
            "metadata = ?, finished_at = ? WHERE pk = ?",
            (body.new_cursor, body.records_processed, dumps(body.metadata), now, run["pk"]),
        )
        if body.new_cursor is not None:
            store.log_write(
                conn,
                customer,
                job_token(request),
                "delta_cursor",
                f"{run['connector_name']}/{run['stream']}",
                body.new_cursor,
                at=now,
            )
            conn.execute(
                "INSERT INTO delta_state (customer, connector_name, stream, cursor, cursor_type, updated_at) "
                "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (customer, connector_name, stream) DO UPDATE SET "
                "cursor = excluded.cursor, cursor_type = excluded.cursor_type, "
                "updated_at = excluded.updated_at",
                (customer, run["connector_name"], run["stream"], body.new_cursor, run["cursor_type"], now),
            )
        row = conn.execute("SELECT * FROM delta_runs WHERE pk = ?", (run["pk"],)).fetchone()
    return run_view(row)


@router.post("/v1/delta/runs/{run_id}/fail")
def fail_run(request: Request, run_id: str, body: FailIn, customer: str = Depends(current_customer)) -> Any:
    store = store_of(request)
    with store.tx() as conn:
        run = _running(conn, customer, run_id)
        conn.execute(
            "UPDATE delta_runs SET status = 'failed', error = ?, records_processed = ?, finished_at = ? "
            "WHERE pk = ?",
            (body.error, body.records_processed, store.now(), run["pk"]),
        )
        row = conn.execute("SELECT * FROM delta_runs WHERE pk = ?", (run["pk"],)).fetchone()
    return run_view(row)


@router.get("/v1/delta/runs")
def list_runs(
    request: Request,
    connector_name: str | None = None,
    stream: str | None = None,
    status: str | None = None,
    page: int = 1,
    limit: int = 20,
    customer: str = Depends(current_customer),
) -> dict[str, Any]:
    page, limit, offset = page_window(request, page, limit)
    where = ["customer = ?"]
    args: list[Any] = [customer]
    for column, value in (("connector_name", connector_name), ("stream", stream), ("status", status)):
        if value is not None:
            where.append(f"{column} = ?")
            args.append(value)
    clause = " AND ".join(where)
    with store_of(request).read() as conn:
        count = conn.execute(f"SELECT COUNT(*) FROM delta_runs WHERE {clause}", args).fetchone()[0]
        rows = conn.execute(
            f"SELECT * FROM delta_runs WHERE {clause} ORDER BY pk DESC LIMIT ? OFFSET ?",
            [*args, limit, offset],
        ).fetchall()
    return {"items": [run_view(r) for r in rows], "count": count, "page": page}


@router.get("/v1/delta/runs/{run_id}")
def get_run(request: Request, run_id: str, customer: str = Depends(current_customer)) -> dict[str, Any]:
    with store_of(request).read() as conn:
        row = conn.execute(
            "SELECT * FROM delta_runs WHERE customer = ? AND run_id = ?", (customer, run_id)
        ).fetchone()
    if row is None:
        raise NuntiqError(404, f"delta run {run_id!r} not found")
    return run_view(row)


@router.get("/v1/delta/state")
def get_state(
    request: Request,
    connector_name: str | None = None,
    stream: str | None = None,
    customer: str = Depends(current_customer),
) -> dict[str, Any]:
    where = ["customer = ?"]
    args: list[Any] = [customer]
    for column, value in (("connector_name", connector_name), ("stream", stream)):
        if value is not None:
            where.append(f"{column} = ?")
            args.append(value)
    with store_of(request).read() as conn:
        rows = conn.execute(
            f"SELECT * FROM delta_state WHERE {' AND '.join(where)} ORDER BY connector_name, stream", args
        ).fetchall()
        items = [_state_view(conn, customer, r) for r in rows]
    return {"items": items, "count": len(items), "page": 1}


@router.delete("/v1/delta/state")
def reset_state(
    request: Request, body: StreamIn, customer: str = Depends(current_customer)
) -> dict[str, Any]:
    store = store_of(request)
    with store.tx() as conn:
        cur = conn.execute(
            "DELETE FROM delta_state WHERE customer = ? AND connector_name = ? AND stream = ?",
            (customer, body.connector_name, body.stream),
        )
    return {"deleted": cur.rowcount > 0, "connector_name": body.connector_name, "stream": body.stream}
