"""Failure classes for the Nuntiq customer API (the framework's ``ApiError``).

``ApiError`` carries ``status_code`` (0 when the server could not be reached) and
``response_body`` (raw text, often JSON). It is recognised by those attributes so the
same classifier works with production's ``lib`` and with the local one.
"""

from __future__ import annotations

import json
from typing import Any

from adapters.failures import Failure, FailureClass, parse_retry_after
from adapters.http_status import DEFAULT_STATUS_TABLE

_AUTH_HINT = (
    "the job token was rejected or lacks rights for this customer; check the framework's job token "
    "and customer_number in the settings"
)


#: no reference gives these paths, so a 404 on them most likely means they differ
_PATH_HINT = (
    "the package assumes custom-data tables at /v1/custom-data/{table} and the source-document "
    "list at /v1/source-documents (unconfirmed, see sandbox/nuntiq/API.md); a 404 from those calls "
    "means the customer API keeps them elsewhere"
)


def classify_nuntiq_error(exc: BaseException) -> Failure | None:
    """Classify a Nuntiq ``ApiError``; ``None`` for anything that is not one."""
    status = getattr(exc, "status_code", None)
    body = getattr(exc, "response_body", None)
    if not isinstance(status, int) or isinstance(status, bool) or not hasattr(exc, "response_body"):
        return None
    text = body if isinstance(body, str) else ""
    message = _message(text) or f"HTTP {status}"
    if status == 0:
        return Failure(FailureClass.TRANSIENT, f"Nuntiq API unreachable: {message}", status=None)
    kind = DEFAULT_STATUS_TABLE.lookup(status)
    if kind is None:
        return None
    return DEFAULT_STATUS_TABLE.failure(
        status,
        message,
        retry_after=_retry_after(exc, text) if kind.retryable else None,
        hints={FailureClass.AUTH: _AUTH_HINT, FailureClass.NOT_FOUND: _PATH_HINT},
    )


def _parsed(text: str) -> Any:
    try:
        return json.loads(text)
    except (ValueError, TypeError):
        return None


def _message(text: str) -> str:
    """A short, secret-free summary of the error body (the server's own message field)."""
    body = _parsed(text)
    if isinstance(body, dict):
        for key in ("message", "detail", "error", "title"):
            value = body.get(key)
            if isinstance(value, str) and value:
                return value[:300]
            if value is not None and key == "detail":
                return json.dumps(value)[:300]
    return text.strip()[:300]


def _retry_after(exc: BaseException, text: str) -> float | None:
    """``Retry-After`` from the error (attribute or headers) or from the JSON body."""
    for attr in ("retry_after",):
        value = getattr(exc, attr, None)
        if isinstance(value, int | float) and not isinstance(value, bool):
            return max(0.0, float(value))
        if isinstance(value, str):
            parsed = parse_retry_after(value)
            if parsed is not None:
                return parsed
    headers = getattr(exc, "headers", None) or getattr(getattr(exc, "response", None), "headers", None)
    if headers is not None:
        try:
            raw = headers.get("Retry-After") or headers.get("retry-after")
        except AttributeError:
            raw = None
        if raw is not None:
            parsed = parse_retry_after(str(raw))
            if parsed is not None:
                return parsed
    body = _parsed(text)
    if isinstance(body, dict):
        for key in ("retry_after", "retryAfter", "Retry-After"):
            value = body.get(key)
            if isinstance(value, int | float) and not isinstance(value, bool):
                return max(0.0, float(value))
            if isinstance(value, str):
                parsed = parse_retry_after(value)
                if parsed is not None:
                    return parsed
    return None
