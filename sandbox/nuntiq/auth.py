"""Job-token authentication: ``Authorization: Bearer <token>`` + matching ``X-Customer-Number``."""

from __future__ import annotations

from fastapi import Request

from sandbox.nuntiq.errors import NuntiqError
from sandbox.nuntiq.store import Store


def store_of(request: Request) -> Store:
    store: Store = request.app.state.store
    return store


def current_customer(request: Request) -> str:
    """The customer the job token belongs to; 401 unless the customer header matches it."""
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise NuntiqError(401, "missing bearer token")
    with store_of(request).read() as conn:
        row = conn.execute("SELECT customer FROM job_tokens WHERE token = ?", (token.strip(),)).fetchone()
    if row is None:
        raise NuntiqError(401, "invalid or expired job token")
    claimed = request.headers.get("x-customer-number")
    if not claimed:
        raise NuntiqError(401, "missing X-Customer-Number header")
    if claimed.strip() != row["customer"]:
        raise NuntiqError(401, "X-Customer-Number does not match the job token")
    customer: str = row["customer"]
    request.state.job_token = token.strip()  # the write log records which job wrote what
    return customer


def job_token(request: Request) -> str:
    """The job token of an authenticated request (after :func:`current_customer`)."""
    return str(getattr(request.state, "job_token", ""))
