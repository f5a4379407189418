"""Failures of REST sources: the classifier for ``httpx`` and the kit's own errors.

Statuses go through the shared :mod:`adapters.http_status` table (with the stream's
overrides); ``Retry-After`` is read from the response. Messages name the method, the
path and the server's own short error text, never the query string or a header, so no
credential can reach them.
"""

from __future__ import annotations

import json

import httpx

from adapters.failures import (
    ClassifiedError,
    Classifier,
    Failure,
    FailureClass,
    parse_retry_after,
    with_own_errors,
)
from adapters.http_status import StatusTable

__all__ = ["RestPageError", "RestRecordError", "UnstableListing", "make_rest_classifier"]


class RestPageError(ClassifiedError):
    """A page that breaks what the stream declares (shape, order, progress); never retried."""

    failure_class = FailureClass.INVALID


class RestRecordError(ClassifiedError):
    """A record without a usable key or cursor; the message names the record."""

    failure_class = FailureClass.INVALID


class UnstableListing(ClassifiedError):
    """The listing kept shifting under page-number/offset paging; the next run tries again.

    Retrying a single page cannot help (the whole pass must be read again), so this ends
    the run with the cursor where it was, which is safe.
    """

    failure_class = FailureClass.TRANSIENT


def _server_text(response: httpx.Response) -> str:
    """The server's own error message (common JSON fields), else the start of the body."""
    try:
        text = response.text
    except httpx.ResponseNotRead:
        return ""
    try:
        body = json.loads(text)
    except ValueError:
        return text.strip()[:200]
    if isinstance(body, dict):
        for key in ("message", "error", "detail", "title", "error_description"):
            value = body.get(key)
            if isinstance(value, str) and value:
                return value[:200]
            if isinstance(value, dict | list) and value:
                return json.dumps(value)[:200]
    return text.strip()[:200]


def make_rest_classifier(name: str, table: StatusTable, auth_hint: str) -> Classifier:
    """A classifier for stream ``name``: HTTP statuses by ``table``, transport errors transient."""

    def classify(exc: BaseException) -> Failure | None:
        if isinstance(exc, httpx.HTTPStatusError):
            response = exc.response
            detail = _server_text(response)
            message = f"HTTP {response.status_code} on {exc.request.method} {exc.request.url.path}" + (
                f": {detail}" if detail else ""
            )
            return table.failure(
                response.status_code,
                message,
                retry_after=parse_retry_after(response.headers.get("Retry-After")),
                hints={FailureClass.AUTH: auth_hint},
            )
        if isinstance(exc, httpx.TransportError):
            return Failure(
                FailureClass.TRANSIENT, f"{name}: API unreachable or connection lost ({type(exc).__name__})"
            )
        return None

    return with_own_errors(classify)
