"""``/v1/invoices``: minimal invoices with attachments and lifecycle messages.

Enough for connectors that push status back to Nuntiq ("Posted to ERP") or attach
files to an invoice; not a model of invoice processing.
"""

from __future__ import annotations

import json
import sqlite3
from typing import Any, Literal

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, ConfigDict, Field

from sandbox.nuntiq.auth import current_customer, store_of
from sandbox.nuntiq.errors import NuntiqError
from sandbox.nuntiq.files import files_of, read_multipart, store_files
from sandbox.nuntiq.paging import page_rows, page_window
from sandbox.nuntiq.store import dumps, new_id

router = APIRouter()


class InvoiceIn(BaseModel):
    model_config = ConfigDict(extra="allow")

    invoice_number: str = Field(min_length=1, max_length=64)
    supplier_number: str | None = None
    currency: str | None = Field(None, pattern=r"^[A-Z]{3}$")
    total_amount: float | None = None
    status: str = "received"


class LifecycleMessageIn(BaseModel):
    level: Literal["info", "warn", "warning", "error"] = "info"
    message: str = Field(min_length=1, max_length=4000)


def _invoice(conn: sqlite3.Connection, customer: str, row: sqlite3.Row) -> dict[str, Any]:
    return {
        **json.loads(row["data"]),
        "id": row["id"],
        "invoice_number": row["invoice_number"],
        "created_at": row["created_at"],
        "updated_at": row["updated_at"],
        "attachments": files_of(conn, customer, "invoice", row["id"]),
    }


def _get_row(conn: sqlite3.Connection, customer: str, invoice_id: str) -> sqlite3.Row:
    row = conn.execute(
        "SELECT * FROM invoices WHERE customer = ? AND id = ?", (customer, invoice_id)
    ).fetchone()
    if row is None:
        raise NuntiqError(404, f"invoice {invoice_id!r} not found")
    result: sqlite3.Row = row
    return result


@router.post("/v1/invoices", status_code=201)
def create_invoice(request: Request, body: InvoiceIn, customer: str = Depends(current_customer)) -> Any:
    store = store_of(request)
    invoice_id = new_id()
    data = body.model_dump(exclude={"invoice_number"})
    with store.tx() as conn:
        now = store.now()
        conn.execute(
            "INSERT INTO invoices (id, customer, invoice_number, data, created_at, updated_at) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (invoice_id, customer, body.invoice_number, dumps(data), now, now),
        )
        store.bump(conn, customer, "invoices_created")
        return _invoice(conn, customer, _get_row(conn, customer, invoice_id))


@router.get("/v1/invoices")
def list_invoices(
    request: Request, page: int = 1, limit: int = 100, customer: str = Depends(current_customer)
) -> dict[str, Any]:
    page, limit, offset = page_window(request, page, limit)
    with store_of(request).read() as conn:
        count, rows = page_rows(conn, "invoices", "customer = ?", (customer,), limit, offset)
        return {"items": [_invoice(conn, customer, r) for r in rows], "count": count, "page": page}


@router.get("/v1/invoices/{invoice_id}")
def get_invoice(request: Request, invoice_id: str, customer: str = Depends(current_customer)) -> Any:
    with store_of(request).read() as conn:
        return _invoice(conn, customer, _get_row(conn, customer, invoice_id))


@router.post("/v1/invoices/{invoice_id}/attachments", status_code=201)
async def add_attachments(
    request: Request, invoice_id: str, customer: str = Depends(current_customer)
) -> Any:
    store = store_of(request)
    with store.read() as conn:
        _get_row(conn, customer, invoice_id)
    files, _fields = await read_multipart(request)
    with store.tx() as conn:
        now = store.now()
        stored = store_files(conn, store, customer, "invoice", invoice_id, files, now)
        conn.execute("UPDATE invoices SET updated_at = ? WHERE id = ?", (now, invoice_id))
    return {"invoice_id": invoice_id, "files": stored}


@router.post("/v1/invoices/{invoice_id}/lifecycle-messages", status_code=201)
def add_message(
    request: Request, invoice_id: str, body: LifecycleMessageIn, customer: str = Depends(current_customer)
) -> dict[str, Any]:
    store = store_of(request)
    level = "warn" if body.level == "warning" else body.level
    message_id = new_id()
    with store.tx() as conn:
        _get_row(conn, customer, invoice_id)
        now = store.now()
        conn.execute(
            "INSERT INTO lifecycle_messages (id, customer, invoice_id, level, message, created_at) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (message_id, customer, invoice_id, level, body.message, now),
        )
        store.bump(conn, customer, "lifecycle_messages_created")
    return {
        "id": message_id,
        "invoice_id": invoice_id,
        "level": level,
        "message": body.message,
        "created_at": now,
    }


@router.get("/v1/invoices/{invoice_id}/lifecycle-messages")
def list_messages(
    request: Request,
    invoice_id: str,
    page: int = 1,
    limit: int = 100,
    customer: str = Depends(current_customer),
) -> dict[str, Any]:
    page, limit, offset = page_window(request, page, limit)
    with store_of(request).read() as conn:
        _get_row(conn, customer, invoice_id)
        count, rows = page_rows(
            conn,
            "lifecycle_messages",
            "customer = ? AND invoice_id = ?",
            (customer, invoice_id),
            limit,
            offset,
            columns="id, invoice_id, level, message, created_at",
        )
    return {"items": [dict(r) for r in rows], "count": count, "page": page}
