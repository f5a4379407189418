"""Helpers for tests and benchmarks that need a Nuntiq job context against a sandbox service.

with serve_in_thread("nuntiq") as server:
    context = nuntiq_context(server, "10000001", {"secrets": {...}, "config": {...}})
    run(context)
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TextIO

import httpx

from adapters.testing import FakeClock, RecordingLogger
from lib.context import Context, load_context, read_settings
from sandbox.server import RunningServer

__all__ = [
    "DEFAULT_CUSTOMER",
    "FakeClock",
    "RecordingLogger",
    "all_source_documents",
    "issue_job_token",
    "nuntiq_context",
    "write_counters",
]

DEFAULT_CUSTOMER = "10000001"


def _url(server: RunningServer | str) -> str:
    return server if isinstance(server, str) else server.url


def issue_job_token(server: RunningServer | str, customer_number: str = DEFAULT_CUSTOMER) -> str:
    """Mint a job token for ``customer_number`` on a sandbox Nuntiq service."""
    response = httpx.post(
        f"{_url(server)}/_sandbox/jobs", json={"customer_number": str(customer_number)}, timeout=30
    )
    response.raise_for_status()
    token: str = response.json()["token"]
    return token


def nuntiq_context(
    server: RunningServer | str,
    customer_number: str | None = None,
    settings: Mapping[str, Any] | str | Path | None = None,
    *,
    params: Mapping[str, Any] | None = None,
    log_stream: TextIO | None = None,
    job_token: str | None = None,
    keep_log_records: bool = True,
) -> Context:
    """A job context bound to a fresh job token on ``server``.

    ``settings`` may omit ``customer_number`` (``customer_number`` or the default is
    used); an explicit ``customer_number`` wins over the one in ``settings``. Log lines
    go to ``log_stream`` (an in-memory buffer by default) and are kept in
    ``context.logger.records``.
    """
    raw: dict[str, Any] = dict(settings) if isinstance(settings, Mapping) else {}
    if settings is not None and not isinstance(settings, Mapping):
        raw = read_settings(settings)
    if customer_number is not None:
        raw["customer_number"] = str(customer_number)
    raw.setdefault("customer_number", DEFAULT_CUSTOMER)
    customer = str(raw["customer_number"])
    token = job_token or issue_job_token(server, customer)
    return load_context(
        raw,
        api_url=_url(server),
        job_token=token,
        params=params,
        log_stream=log_stream if log_stream is not None else io.StringIO(),
        keep_log_records=keep_log_records,
    )


def all_source_documents(context: Context) -> list[dict[str, Any]]:
    """Every source document the context's customer holds, read with the package's page loop."""
    from adapters.nuntiq.listing import iter_rows

    rows = iter_rows(
        lambda params: context.api.get("/v1/source-documents", params=params),
        {},
        limit=100,
        describe="source documents",
    )
    return [dict(row) for row in rows]


def write_counters(server: RunningServer | str, customer_number: str = DEFAULT_CUSTOMER) -> dict[str, int]:
    """Writes per kind (suppliers_written, source_documents_created, ...) for one customer."""
    response = httpx.get(
        f"{_url(server)}/_sandbox/nuntiq/counters", params={"customer_number": customer_number}, timeout=30
    )
    response.raise_for_status()
    result: dict[str, int] = response.json()
    return result
