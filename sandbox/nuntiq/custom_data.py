"""``/v1/custom-data/{table}``: per-customer key/value tables.

Connectors keep small durable state here (e.g. a ledger of uploaded documents). A
PUT upserts up to 1000 rows in one transaction; values are any JSON.
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, Field

from sandbox.nuntiq.auth import current_customer, job_token, store_of
from sandbox.nuntiq.errors import NuntiqError
from sandbox.nuntiq.paging import list_answer, list_window
from sandbox.nuntiq.store import dumps
from sandbox.nuntiq.variants import variants_of

MAX_ROWS = 1000
TABLE_PATTERN = r"^[A-Za-z0-9_.-]{1,64}$"
router = APIRouter()


class Row(BaseModel):
    key: str = Field(min_length=1, max_length=512)
    value: Any = None


class RowsIn(BaseModel):
    rows: list[Row] = Field(max_length=MAX_ROWS)


class KeysIn(BaseModel):
    keys: list[str] = Field(max_length=MAX_ROWS)


def _table(table: str) -> str:
    import re

    if not re.fullmatch(TABLE_PATTERN, table):
        raise NuntiqError(400, f"invalid table name {table!r}", {"table": f"must match {TABLE_PATTERN}"})
    return table


@router.put("/v1/custom-data/{table}")
def put_rows(request: Request, table: str, body: RowsIn, customer: str = Depends(current_customer)) -> Any:
    store = store_of(request)
    _table(table)
    with store.tx() as conn:
        now = store.now()
        conn.executemany(
            "INSERT INTO custom_data (customer, table_name, key, value, updated_at) VALUES (?, ?, ?, ?, ?) "
            "ON CONFLICT (customer, table_name, key) DO UPDATE SET value = excluded.value, "
            "updated_at = excluded.updated_at",
            [(customer, table, row.key, dumps(row.value), now) for row in body.rows],
        )
        store.bump(conn, customer, "custom_data_rows_written", len(body.rows))
        for row in body.rows:
            store.log_write(conn, customer, job_token(request), f"custom_data:{table}", row.key, at=now)
    return _put_answer(request, body, now)


def _put_answer(request: Request, body: RowsIn, now: str) -> dict[str, Any]:
    """The upsert's answer, in the variants' shape (``upsert_answer``)."""
    answer = variants_of(request).upsert_answer
    if answer == "rows":
        rows = [{"key": r.key, "value": r.value, "updated_at": now} for r in body.rows]
        return {"written": len(body.rows), "rows": rows}
    if answer == "camel":
        return {"written": len(body.rows), "updatedAt": now}
    if answer == "bare":
        return {"written": len(body.rows)}
    return {"written": len(body.rows), "updated_at": now}


def _row(request: Request, key: str, value: str, updated_at: str) -> dict[str, Any]:
    stamp = "updatedAt" if variants_of(request).upsert_answer == "camel" else "updated_at"
    return {"key": key, "value": json.loads(value), stamp: updated_at}


@router.get("/v1/custom-data/{table}")
def list_rows(
    request: Request,
    table: str,
    key_prefix: str | None = None,
    page: int = 1,
    limit: int = 100,
    cursor: str | None = None,
    customer: str = Depends(current_customer),
) -> Any:
    _table(table)
    page, limit, offset = list_window(request, page, limit, cursor)
    where = "customer = ? AND table_name = ?"
    args: list[Any] = [customer, table]
    if key_prefix and variants_of(request).key_prefix == "honoured":
        where += " AND substr(key, 1, ?) = ?"
        args += [len(key_prefix), key_prefix]
    with store_of(request).read() as conn:
        count = conn.execute(f"SELECT COUNT(*) FROM custom_data WHERE {where}", args).fetchone()[0]
        rows = conn.execute(
            f"SELECT key, value, updated_at FROM custom_data WHERE {where} ORDER BY key LIMIT ? OFFSET ?",
            [*args, limit, offset],
        ).fetchall()
    items = [_row(request, r["key"], r["value"], r["updated_at"]) for r in rows]
    return list_answer(request, items, count, page, offset)


@router.get("/v1/custom-data/{table}/{key:path}")
def get_row(request: Request, table: str, key: str, customer: str = Depends(current_customer)) -> Any:
    _table(table)
    with store_of(request).read() as conn:
        row = conn.execute(
            "SELECT key, value, updated_at FROM custom_data "
            "WHERE customer = ? AND table_name = ? AND key = ?",
            (customer, table, key),
        ).fetchone()
    if row is None:
        raise NuntiqError(404, f"no row {key!r} in custom data table {table!r}")
    return _row(request, row["key"], row["value"], row["updated_at"])


@router.delete("/v1/custom-data/{table}")
def delete_rows(request: Request, table: str, body: KeysIn, customer: str = Depends(current_customer)) -> Any:
    store = store_of(request)
    _table(table)
    with store.tx() as conn:
        deleted = 0
        for key in body.keys:
            cur = conn.execute(
                "DELETE FROM custom_data WHERE customer = ? AND table_name = ? AND key = ?",
                (customer, table, key),
            )
            deleted += cur.rowcount
            if cur.rowcount:
                store.log_write(conn, customer, job_token(request), f"custom_data_delete:{table}", key)
    return {"deleted": deleted}
