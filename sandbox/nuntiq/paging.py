"""Page/limit handling shared by the list endpoints (``{items, count, page}``)."""

from __future__ import annotations

import sqlite3
from typing import Any

from fastapi import Request

from sandbox.faults import FaultState
from sandbox.nuntiq.errors import NuntiqError

MAX_LIMIT = 1000


def page_window(request: Request, page: int, limit: int) -> tuple[int, int, int]:
    """(page, limit, offset); the fault plan's ``page_size_cap`` can shrink the page."""
    if page < 1:
        raise NuntiqError(400, "page must be >= 1", {"page": "must be >= 1"})
    if not 1 <= limit <= MAX_LIMIT:
        raise NuntiqError(400, f"limit must be between 1 and {MAX_LIMIT}", {"limit": "out of range"})
    state: FaultState = request.app.state.faults
    cap = state.plan.page_size_cap
    if cap is not None:
        limit = min(limit, cap)
    return page, limit, (page - 1) * limit


def page_rows(
    conn: sqlite3.Connection,
    table: str,
    where: str,
    args: tuple[Any, ...],
    limit: int,
    offset: int,
    columns: str = "*",
) -> tuple[int, list[sqlite3.Row]]:
    """(rows matching ``where`` in all, this page of them in insertion order).

    ``table``, ``where`` and ``columns`` are the endpoints' own constants, never request
    input; values always travel as ``args``.
    """
    count: int = conn.execute(f"SELECT COUNT(*) FROM {table} WHERE {where}", args).fetchone()[0]
    rows = conn.execute(
        f"SELECT {columns} FROM {table} WHERE {where} ORDER BY pk LIMIT ? OFFSET ?", (*args, limit, offset)
    ).fetchall()
    return count, rows
