"""Sandbox-only control endpoints: issue job tokens, read write counters.

``POST /_sandbox/jobs`` stands in for the framework starting a job: it mints a
token scoped to one customer. Counters let the CLI and tests say how many rows a
run wrote without trusting the client's own bookkeeping.
"""

from __future__ import annotations

import secrets
from typing import Any

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field

from sandbox.nuntiq.auth import store_of
from sandbox.nuntiq.variants import Variants

router = APIRouter()


class JobIn(BaseModel):
    customer_number: str = Field(min_length=1, max_length=64)
    token: str | None = Field(None, min_length=16, description="use this token instead of a random one")


def issue_token(request: Request, customer_number: str, token: str | None = None) -> str:
    store = store_of(request)
    token = token or "job-" + secrets.token_urlsafe(24)
    with store.tx() as conn:
        conn.execute(
            "INSERT INTO job_tokens (token, customer, created_at) VALUES (?, ?, ?) "
            "ON CONFLICT (token) DO UPDATE SET customer = excluded.customer",
            (token, customer_number, store.now()),
        )
    return token


@router.post("/_sandbox/jobs", status_code=201)
@router.post("/_sandbox/nuntiq/jobs", status_code=201)
def create_job(request: Request, body: JobIn) -> dict[str, Any]:
    token = issue_token(request, body.customer_number.strip(), body.token)
    return {"token": token, "customer_number": body.customer_number.strip()}


@router.get("/_sandbox/nuntiq/counters")
def counters(request: Request, customer_number: str) -> dict[str, int]:
    """Writes per kind for one customer since the database was created (monotonic)."""
    with store_of(request).read() as conn:
        rows = conn.execute(
            "SELECT kind, n FROM write_counters WHERE customer = ?", (customer_number,)
        ).fetchall()
    return {r["kind"]: r["n"] for r in rows}


@router.get("/_sandbox/nuntiq/counts")
def counts(request: Request, customer_number: str) -> dict[str, int]:
    """Rows currently stored per table for one customer."""
    tables = (
        "suppliers",
        "source_documents",
        "files",
        "invoices",
        "lifecycle_messages",
        "custom_data",
        "delta_state",
        "delta_runs",
    )
    with store_of(request).read() as conn:
        return {
            t: conn.execute(f"SELECT COUNT(*) FROM {t} WHERE customer = ?", (customer_number,)).fetchone()[0]
            for t in tables
        }


@router.get("/_sandbox/nuntiq/variants")
def get_variants(request: Request) -> dict[str, Any]:
    """The answers to unconfirmed assumptions this service currently gives."""
    variants: Variants = request.app.state.variants
    return variants.model_dump()


@router.put("/_sandbox/nuntiq/variants")
def put_variants(request: Request, body: Variants) -> dict[str, Any]:
    request.app.state.variants = body
    return body.model_dump()


@router.get("/_sandbox/nuntiq/write-log")
def write_log(
    request: Request, customer_number: str, after: int = 0, limit: int = 1_000_000
) -> dict[str, Any]:
    """Every write (kind, key, server time) with the job token that made it, oldest first."""
    with store_of(request).read() as conn:
        rows = conn.execute(
            "SELECT pk, token, kind, key, detail, at FROM write_log WHERE customer = ? AND pk > ? "
            "ORDER BY pk LIMIT ?",
            (customer_number, after, limit),
        ).fetchall()
    return {"items": [dict(r) for r in rows]}
