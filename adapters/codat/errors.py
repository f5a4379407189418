"""Classifier for Codat failures: SDK errors and transport errors -> :class:`Failure`.

The HTTP status is taken from the response, never from the body's ``statusCode``
(Codat's own examples carry wrong ones), and ``canBeRetried`` is ignored (it is
always ``"Unknown"``). Messages are built from the error body only, so no request
header - and so no API key - can leak into them.
"""

from __future__ import annotations

import json
from typing import Any

import httpx
from codat_files.models import errors as sdk_errors

from adapters.codat.ratelimit import requested_wait
from adapters.failures import Classifier, Failure, FailureClass, with_own_errors
from adapters.http_status import DEFAULT_STATUS_TABLE

AUTH_HINT = "check the Codat API key secret ({secret}) and that it may access this company"
QUOTA_HINT = "this is a Codat account limit (plan, company count or expired account); retrying will not help"

#: Codat answers 402 Payment Required for account limits (plan, company count, expiry)
CODAT_STATUS_TABLE = DEFAULT_STATUS_TABLE.with_overrides({402: FailureClass.QUOTA})

_SDK_ERRORS = (
    sdk_errors.Schema,
    sdk_errors.ListFilesErrorMessage,
    sdk_errors.DownloadFilesErrorMessage,
    sdk_errors.UploadFilesErrorMessage,
)


def _body(exc: BaseException, response: httpx.Response | None) -> dict[str, Any]:
    data = getattr(exc, "data", None)
    if data is not None and hasattr(data, "model_dump"):
        dumped: dict[str, Any] = data.model_dump(by_alias=True, mode="json")
        return dumped
    text = getattr(exc, "body", "") or ""
    if not text and response is not None:
        try:
            text = response.text
        except httpx.ResponseNotRead:
            text = ""
    try:
        parsed = json.loads(text) if text else {}
    except ValueError:
        return {"error": text[:200]}
    return parsed if isinstance(parsed, dict) else {}


def validation_messages(body: dict[str, Any]) -> list[str]:
    """Codat's ``validation.errors[].message`` texts (with the item id when there is one)."""
    validation = body.get("validation") or {}
    out: list[str] = []
    if isinstance(validation, dict):
        for item in validation.get("errors") or []:
            if isinstance(item, dict) and item.get("message"):
                item_id = item.get("itemId")
                out.append(f"{item_id}: {item['message']}" if item_id else str(item["message"]))
    return out


def _describe(status: int, body: dict[str, Any], url: str) -> str:
    parts = [str(body.get("error") or f"HTTP {status}")]
    parts.extend(validation_messages(body))
    if body.get("correlationId"):
        parts.append(f"correlationId {body['correlationId']}")
    return f"{'; '.join(parts)} ({url})" if url else "; ".join(parts)


def _target(url: str) -> str:
    """'company X' or 'company X / connection Y' from a Codat request path."""
    segments = [s for s in httpx.URL(url).path.split("/") if s] if url else []
    names: list[str] = []
    for label, marker in (("company", "companies"), ("connection", "connections")):
        if marker in segments:
            index = segments.index(marker)
            if index + 1 < len(segments):
                names.append(f"{label} {segments[index + 1]}")
    return " / ".join(names) or "the requested resource"


def _unreadable_success(exc: BaseException) -> Failure | None:
    """A 2xx answer whose body the SDK could not parse (``CodatFilesClient`` attaches it).

    Without this the run failed with the parser's bare text ("EOF while parsing a value
    at line 1 column 58"), naming neither Codat nor the request.
    """
    response = getattr(exc, "raw_response", None)
    if not isinstance(exc, ValueError) or not isinstance(response, httpx.Response):
        return None
    if not 200 <= response.status_code < 300:
        return None
    return Failure(
        FailureClass.INVALID,
        f"Codat answered {response.status_code} with a body that is not valid JSON or not the "
        f"documented shape ({response.request.url.path}): {exc}",
        response.status_code,
    )


def _tried(exc: httpx.TransportError) -> str:
    """`` at <scheme://host:port> (config codat.server_url)`` from the failed request, if known."""
    try:
        url = exc.request.url
    except RuntimeError:  # raised outside a request
        return ""
    return f" at {url.scheme}://{url.netloc.decode()} (config codat.server_url)"


def make_classifier(api_key_secret: str = "codat_api_key") -> Classifier:
    """A classifier whose auth hint names the secret the settings point at."""

    def classify(exc: BaseException) -> Failure | None:
        if isinstance(exc, httpx.TransportError):
            return Failure(
                FailureClass.TRANSIENT,
                f"Codat unreachable or connection lost{_tried(exc)}: {type(exc).__name__}: {exc}",
            )
        if not isinstance(exc, (*_SDK_ERRORS, sdk_errors.SDKError)):
            return _unreadable_success(exc)
        response: httpx.Response | None = getattr(exc, "raw_response", None)
        status = response.status_code if response is not None else None
        if status is None and isinstance(exc, sdk_errors.SDKError) and exc.status_code > 0:
            status = exc.status_code
        if status is None:
            data = getattr(exc, "data", None)
            status = getattr(data, "status_code", None)
        body = _body(exc, response)
        # The request path names company / connection; the query string carries no secret.
        url = str(response.request.url.copy_with(query=None)) if response is not None else ""
        path = httpx.URL(url).path if url else ""
        message = _describe(status or 0, body, path)
        if status is None or status == 0:
            # SDKError("No response received") and similar: nothing came back.
            return Failure(FailureClass.TRANSIENT, f"Codat gave no usable response: {exc}")
        headers = response.headers if response is not None else httpx.Headers()
        retry_after = requested_wait(status, headers)
        if retry_after is not None and "retry-after" not in headers:
            message = f"{message}; the rate-limit quota is spent until its reset in {retry_after:.0f}s"
        kind = CODAT_STATUS_TABLE.lookup(status)
        if kind is None:
            return Failure(FailureClass.INVALID, f"unexpected Codat response: {message}", status)
        if kind is FailureClass.QUOTA:
            message = f"Codat account limit reached: {message}"
        elif kind is FailureClass.NOT_FOUND:
            message = f"{_target(url)} not found: {message}"
        return CODAT_STATUS_TABLE.failure(
            status,
            message,
            retry_after=retry_after,
            hints={
                FailureClass.AUTH: AUTH_HINT.format(secret=api_key_secret),
                FailureClass.QUOTA: QUOTA_HINT,
            },
        )

    return with_own_errors(classify)


classify = make_classifier()
