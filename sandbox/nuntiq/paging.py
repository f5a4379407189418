"""Page/limit handling shared by the list endpoints (``{items, count, page}``).

:func:`list_window` and :func:`list_answer` serve the custom-data and source-document
lists in the shape the service's variants pick (``sandbox/nuntiq/variants.py``).
"""

from __future__ import annotations

import base64
import binascii
import sqlite3
from typing import Any

from fastapi import Request

from sandbox.faults import FaultState
from sandbox.nuntiq.errors import NuntiqError
from sandbox.nuntiq.variants import variants_of

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


#: the cap the ``clamp_100`` and ``refuse_above_100`` variants apply
VARIANT_CAP = 100


def _cursor_offset(cursor: str) -> int:
    try:
        offset = int(base64.urlsafe_b64decode(cursor.encode()).decode().removeprefix("o:"))
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise NuntiqError(400, f"invalid cursor {cursor!r}", {"cursor": "invalid"}) from None
    if offset < 0:
        raise NuntiqError(400, f"invalid cursor {cursor!r}", {"cursor": "invalid"})
    return offset


def _cursor(offset: int) -> str:
    return base64.urlsafe_b64encode(f"o:{offset}".encode()).decode()


def list_window(request: Request, page: int, limit: int, cursor: str | None) -> tuple[int, int, int]:
    """(page, limit, offset) under the variants' page cap and paging style."""
    variants = variants_of(request)
    if variants.page_cap == "refuse_above_100" and limit > VARIANT_CAP:
        raise NuntiqError(400, f"limit must be between 1 and {VARIANT_CAP}", {"limit": "out of range"})
    if variants.page_cap == "clamp_100":
        limit = min(limit, VARIANT_CAP)
    if variants.list_shape == "next_cursor":
        _, limit, _ = page_window(request, 1, limit)
        return 1, limit, _cursor_offset(cursor) if cursor else 0
    return page_window(request, page, limit)


def list_answer(request: Request, items: list[Any], count: int, page: int, offset: int) -> Any:
    """One page in the variants' list shape."""
    shape = variants_of(request).list_shape
    if shape == "bare_list":
        return items
    if shape == "data_total":
        return {"data": items, "total": count, "page": page}
    if shape == "next_cursor":
        after = offset + len(items)
        return {"items": items, "next_cursor": _cursor(after) if items and after < count else None}
    return {"items": items, "count": count, "page": page}
