"""``/v1/source-documents``: multipart upload (one call = one new document), listing, lookup.

Form fields other than files are kept as the document's ``properties``;
``document_type`` and ``external_reference`` are also returned top-level and can be
filtered on. Listing is ordered by (created_at, id); ``created_after`` is exclusive.
"""

from __future__ import annotations

import asyncio
import json
import random
import sqlite3
import time
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Depends, Request

from sandbox.nuntiq.auth import current_customer, job_token, store_of
from sandbox.nuntiq.errors import NuntiqError
from sandbox.nuntiq.files import files_of, read_multipart, store_files
from sandbox.nuntiq.paging import list_answer, list_window
from sandbox.nuntiq.store import dumps, format_ts, new_id
from sandbox.nuntiq.variants import variants_of

router = APIRouter()


def _document(conn: sqlite3.Connection, customer: str, row: sqlite3.Row) -> dict[str, Any]:
    return {
        "id": row["id"],
        "created_at": row["created_at"],
        "document_type": row["document_type"],
        "external_reference": row["external_reference"],
        "properties": json.loads(row["properties"]),
        "files": files_of(conn, customer, "source_document", row["id"]),
    }


def _field_value(text: str) -> Any:
    stripped = text.strip()
    if stripped[:1] in ("{", "["):
        try:
            return json.loads(stripped)
        except ValueError:
            return text
    return text


def parse_after(value: str) -> str:
    try:
        parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        raise NuntiqError(
            400, f"created_after is not an ISO-8601 timestamp: {value!r}", {"created_after": "invalid"}
        ) from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return format_ts(parsed)


@router.post("/v1/source-documents", status_code=201)
async def upload(request: Request, customer: str = Depends(current_customer)) -> Any:
    arrived = time.monotonic()
    files, fields = await read_multipart(request)
    variants = variants_of(request)
    if variants.upload_delay_ms and random.random() < variants.slow_upload_rate:
        await asyncio.sleep(variants.upload_delay_ms / 1000.0)  # a slow upload
    deadline = variants.write_deadline_seconds
    if deadline is not None and time.monotonic() - arrived > deadline:
        raise NuntiqError(
            504, f"the upload took longer than the {deadline:g}s request deadline; nothing stored"
        )
    store = store_of(request)
    doc_id = new_id()
    with store.tx() as conn:
        created_at = store.now()
        properties = {k: _field_value(v) for k, v in fields.items()}
        conn.execute(
            "INSERT INTO source_documents (id, customer, document_type, external_reference, properties, "
            "created_at) VALUES (?, ?, ?, ?, ?, ?)",
            (
                doc_id,
                customer,
                fields.get("document_type"),
                fields.get("external_reference"),
                dumps(properties),
                created_at,
            ),
        )
        store_files(conn, store, customer, "source_document", doc_id, files, created_at)
        store.bump(conn, customer, "source_documents_created")
        store.log_write(
            conn, customer, job_token(request), "source_document", doc_id, dumps(properties)[:500]
        )
        row = conn.execute("SELECT * FROM source_documents WHERE id = ?", (doc_id,)).fetchone()
        document = _document(conn, customer, row)
    answer = variants.upload_answer
    if answer == "list":
        return [document]
    if answer == "wrapped":
        return {"document": document}
    return document


@router.get("/v1/source-documents")
def list_documents(
    request: Request,
    created_after: str | None = None,
    external_reference: str | None = None,
    document_type: str | None = None,
    page: int = 1,
    limit: int = 100,
    cursor: str | None = None,
    customer: str = Depends(current_customer),
) -> Any:
    page, limit, offset = list_window(request, page, limit, cursor)
    variants = variants_of(request)
    where = ["customer = ?"]
    args: list[Any] = [customer]
    if created_after and variants.created_after != "ignored":
        where.append("created_at > ?" if variants.created_after == "exclusive" else "created_at >= ?")
        args.append(parse_after(created_after))
    if external_reference is not None:
        where.append("external_reference = ?")
        args.append(external_reference)
    if document_type is not None:
        where.append("document_type = ?")
        args.append(document_type)
    clause = " AND ".join(where)
    order = "created_at DESC, id DESC" if variants.document_order == "created_desc" else "created_at, id"
    with store_of(request).read() as conn:
        count = conn.execute(f"SELECT COUNT(*) FROM source_documents WHERE {clause}", args).fetchone()[0]
        rows = conn.execute(
            f"SELECT * FROM source_documents WHERE {clause} ORDER BY {order} LIMIT ? OFFSET ?",
            [*args, limit, offset],
        ).fetchall()
        items = [_document(conn, customer, r) for r in rows]
    return list_answer(request, items, count, page, offset)


@router.get("/v1/source-documents/{document_id}")
def get_document(request: Request, document_id: str, customer: str = Depends(current_customer)) -> Any:
    with store_of(request).read() as conn:
        row = conn.execute(
            "SELECT * FROM source_documents WHERE customer = ? AND id = ?", (customer, document_id)
        ).fetchone()
        if row is None:
            raise NuntiqError(404, f"source document {document_id!r} not found")
        return _document(conn, customer, row)
