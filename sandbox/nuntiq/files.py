"""Stored files (source-document files and invoice attachments) and their download endpoint.

A file is addressed by its ``attachment_token`` only, and only by the customer that
owns it; another customer's token answers 404, exactly like an unknown one.
"""

from __future__ import annotations

import hashlib
import secrets
import sqlite3
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Request
from fastapi.responses import StreamingResponse
from starlette.datastructures import UploadFile

from sandbox.nuntiq.auth import current_customer, store_of
from sandbox.nuntiq.errors import NuntiqError
from sandbox.nuntiq.store import Store

CHUNK = 64 * 1024
router = APIRouter()


def file_meta(row: sqlite3.Row) -> dict[str, Any]:
    return {
        "file_name": row["file_name"],
        "size": row["size"],
        "sha256": row["sha256"],
        "media_type": row["media_type"],
        "attachment_token": row["attachment_token"],
        "created_at": row["created_at"],
    }


async def read_multipart(request: Request) -> tuple[list[tuple[str, str, bytes]], dict[str, str]]:
    """(files as (name, media type, bytes), other form fields) of a multipart request."""
    try:
        form = await request.form()
    except Exception as exc:  # malformed multipart -> client error, not 500
        raise NuntiqError(400, f"malformed multipart body: {exc}") from None
    files: list[tuple[str, str, bytes]] = []
    fields: dict[str, str] = {}
    for key, value in form.multi_items():
        if isinstance(value, UploadFile):
            name = value.filename or ""
            if not name:
                raise NuntiqError(400, "an uploaded file has no file name", {key: "file name missing"})
            files.append((name, value.content_type or "application/octet-stream", await value.read()))
        else:
            fields[key] = value
    if not files:
        raise NuntiqError(400, "no files in the upload", {"files": "at least one file is required"})
    return files, fields


def store_files(
    conn: sqlite3.Connection,
    store: Store,
    customer: str,
    owner_kind: str,
    owner_id: str,
    files: list[tuple[str, str, bytes]],
    created_at: str,
) -> list[dict[str, Any]]:
    stored = []
    for name, media_type, content in files:
        token = secrets.token_urlsafe(24)
        digest = hashlib.sha256(content).hexdigest()
        conn.execute(
            "INSERT INTO files (customer, owner_kind, owner_id, file_name, media_type, size, sha256, "
            "attachment_token, content, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                customer,
                owner_kind,
                owner_id,
                name,
                media_type,
                len(content),
                digest,
                token,
                content,
                created_at,
            ),
        )
        stored.append(
            {
                "file_name": name,
                "size": len(content),
                "sha256": digest,
                "media_type": media_type,
                "attachment_token": token,
                "created_at": created_at,
            }
        )
    store.bump(conn, customer, "files_stored", len(files))
    return stored


def files_of(conn: sqlite3.Connection, customer: str, owner_kind: str, owner_id: str) -> list[dict[str, Any]]:
    rows = conn.execute(
        "SELECT file_name, size, sha256, media_type, attachment_token, created_at FROM files "
        "WHERE customer = ? AND owner_kind = ? AND owner_id = ? ORDER BY pk",
        (customer, owner_kind, owner_id),
    ).fetchall()
    return [file_meta(r) for r in rows]


@router.get("/v1/attachments/{attachment_token}")
def download(request: Request, attachment_token: str, customer: str = Depends(current_customer)) -> Any:
    with store_of(request).read() as conn:
        row = conn.execute(
            "SELECT file_name, media_type, size, content FROM files "
            "WHERE customer = ? AND attachment_token = ?",
            (customer, attachment_token),
        ).fetchone()
    if row is None:
        raise NuntiqError(404, "attachment not found")
    content: bytes = row["content"]

    def chunks() -> Iterator[bytes]:
        for start in range(0, len(content), CHUNK):
            yield content[start : start + CHUNK]

    return StreamingResponse(
        chunks(),
        media_type=row["media_type"],
        headers={
            "content-length": str(row["size"]),
            "content-disposition": f"attachment; filename*=UTF-8''{quote(row['file_name'])}",
        },
    )
