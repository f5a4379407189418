"""Classify Connect client failures for the shared retry policy.

``ConnectClient`` wraps every HTTP failure in ``ClientError``: ``status_code`` is
``None`` when no response arrived (refused, dropped, timed out), ``error_code`` and
``errors`` come from Connect's ``{"error_code", "errors"}`` body, and the original
``requests`` exception (with the response and its headers) is kept as ``__cause__``,
which is where ``Retry-After`` is read from. Raw ``requests`` exceptions also reach us
from document downloads, which stream outside the client's ``get``.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import requests
import urllib3
from connect.client import ClientError

from adapters.connect.settings import API_KEY_SECRET_SETTING
from adapters.failures import ClassifiedError, Failure, FailureClass, parse_retry_after, with_own_errors
from adapters.http_status import DEFAULT_STATUS_TABLE

__all__ = ["CONNECT_STATUS_TABLE", "ConnectPageError", "classify_connect_error"]

AUTH_HINT = (
    f"check the Connect API key: the secret named by config {API_KEY_SECRET_SETTING!r} "
    "(default 'connect_api_key') must hold a valid 'ApiKey SU-...:...' key with access to this resource"
)


def _tried(exc: BaseException | None) -> str:
    """`` at <scheme://host:port> (config connect_endpoint)`` from the failed request, if any."""
    request = getattr(exc, "request", None)
    url = getattr(request, "url", None)
    if not isinstance(url, str):
        return ""
    parts = urlsplit(url)
    return f" at {parts.scheme}://{parts.netloc} (config connect_endpoint)"


class ConnectPageError(ClassifiedError):
    """A page that contradicts its own ``Content-Range`` or the request (never retried)."""

    failure_class = FailureClass.INVALID


def _response_of(exc: BaseException) -> requests.Response | None:
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        response = getattr(current, "response", None)
        if isinstance(response, requests.Response):
            return response
        current = current.__cause__ or current.__context__
    return None


def _body_message(error_code: Any, errors: Any) -> str:
    parts: list[str] = []
    if error_code:
        parts.append(str(error_code))
    if isinstance(errors, list | tuple) and errors:
        parts.append("; ".join(str(e) for e in errors))
    return " - ".join(parts)


#: Connect answers 425 Too Early while a just-created object is not yet readable
CONNECT_STATUS_TABLE = DEFAULT_STATUS_TABLE.with_overrides({425: FailureClass.TRANSIENT})


def _from_status(status: int, detail: str, retry_after: float | None) -> Failure:
    text = f"HTTP {status}" + (f": {detail}" if detail else "")
    return CONNECT_STATUS_TABLE.failure(
        status, text, retry_after=retry_after, hints={FailureClass.AUTH: AUTH_HINT}
    )


def _classify_foreign(exc: BaseException) -> Failure | None:
    """Map a Connect client or ``requests`` exception to a failure class (None = not ours)."""
    if isinstance(exc, ClientError):
        response = _response_of(exc)
        retry_after = parse_retry_after(response.headers.get("Retry-After")) if response is not None else None
        if exc.status_code is None:
            cause = exc.__cause__
            reason = type(cause).__name__ if cause is not None else "no response"
            return Failure(FailureClass.TRANSIENT, f"Connect not reachable{_tried(cause)} ({reason})")
        if int(exc.status_code) < 400 and isinstance(exc.__cause__, ValueError):
            # a 2xx whose body would not parse: the client wraps the JSON error too
            url = response.url if response is not None else "?"
            return Failure(
                FailureClass.INVALID,
                f"Connect answered {exc.status_code} with a body that is not valid JSON "
                f"({url.split('?')[0]})",
                int(exc.status_code),
            )
        detail = _body_message(exc.error_code, exc.errors) or (exc.message or "")
        return _from_status(int(exc.status_code), detail, retry_after)
    if isinstance(exc, requests.HTTPError) and exc.response is not None:
        response = exc.response
        retry_after = parse_retry_after(response.headers.get("Retry-After"))
        detail = ""
        try:
            body = response.json()
            if isinstance(body, dict):
                detail = _body_message(body.get("error_code"), body.get("errors"))
        except ValueError:
            pass
        return _from_status(response.status_code, detail, retry_after)
    if isinstance(
        exc,
        requests.ConnectionError
        | requests.Timeout
        | requests.exceptions.ChunkedEncodingError
        | urllib3.exceptions.ProtocolError
        | urllib3.exceptions.TimeoutError,
    ):
        return Failure(FailureClass.TRANSIENT, f"Connect not reachable{_tried(exc)} ({type(exc).__name__})")
    return None


#: the project's own exceptions first (they carry their class), then Connect's and ``requests``'
classify_connect_error = with_own_errors(_classify_foreign)
