"""The Codat classifier: status (from the response, not the body) -> failure class."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from codat_files.models import errors

from adapters.codat.errors import classify, make_classifier
from adapters.failures import FailureClass

URL = "https://api.codat.io/companies/c-1/connections/k-9/files"


def sdk_error(status: int, body: dict[str, Any], *, url: str = URL, **headers: str) -> Exception:
    """What CodatFilesClient raises: the SDK's typed error with the response attached."""
    request = httpx.Request("POST", url, headers={"Authorization": "Basic c2VjcmV0LWtleQ=="})
    response = httpx.Response(status, json=body, headers=headers, request=request)
    exc: Exception
    if status == 403:
        exc = errors.UploadFilesErrorMessage(data=errors.UploadFilesErrorMessageData.model_validate(body))
    elif status in (400, 401, 402, 404, 429, 500, 503):
        exc = errors.Schema(data=errors.SchemaData.model_validate(body))
    else:
        exc = errors.SDKError("API error occurred", status, json.dumps(body), response)
    exc.raw_response = response  # type: ignore[attr-defined]
    return exc


def body(status: int, error: str = "x", **extra: Any) -> dict[str, Any]:
    return {"statusCode": status, "service": "PublicApi", "error": error, "canBeRetried": "Unknown", **extra}


@pytest.mark.parametrize(
    ("status", "kind"),
    [
        (401, FailureClass.AUTH),
        (403, FailureClass.AUTH),
        (402, FailureClass.QUOTA),
        (404, FailureClass.NOT_FOUND),
        (429, FailureClass.RATE_LIMITED),
        (500, FailureClass.TRANSIENT),
        (502, FailureClass.TRANSIENT),
        (503, FailureClass.TRANSIENT),
        (400, FailureClass.INVALID),
        (409, FailureClass.INVALID),
    ],
)
def test_status_to_class(status: int, kind: FailureClass) -> None:
    failure = classify(sdk_error(status, body(status)))
    assert failure is not None and failure.kind is kind and failure.status == status


def test_http_status_wins_over_wrong_body_status() -> None:
    # Codat's own spec example for 402 carries statusCode 429
    failure = classify(sdk_error(402, body(429, "Payment Required")))
    assert failure is not None and failure.kind is FailureClass.QUOTA


def test_quota_message_says_account_limit_and_never_retries() -> None:
    failure = classify(sdk_error(402, body(402, "Payment Required")))
    assert failure is not None
    assert "Codat account limit" in failure.message
    assert not failure.kind.retryable


def test_auth_hint_names_the_secret_and_no_secret_leaks() -> None:
    failure = make_classifier("codat_key_eu")(sdk_error(401, body(401, "Unauthorized")))
    assert failure is not None and failure.hint is not None and "codat_key_eu" in failure.hint
    assert "c2VjcmV0LWtleQ" not in failure.message + failure.hint


def test_not_found_names_company_and_connection() -> None:
    failure = classify(sdk_error(404, body(404, "No connection was found")))
    assert failure is not None
    assert "company c-1 / connection k-9" in failure.message


def test_invalid_carries_validation_messages() -> None:
    validation = {"errors": [{"itemId": "a.exe", "message": "type not supported"}], "warnings": []}
    failure = classify(sdk_error(400, body(400, "Bad Request", validation=validation)))
    assert failure is not None and failure.kind is FailureClass.INVALID
    assert "a.exe: type not supported" in failure.message


def test_retry_after_http_date_and_seconds() -> None:
    failure = classify(sdk_error(429, body(429), **{"Retry-After": "12"}))
    assert failure is not None and failure.retry_after == 12
    failure = classify(sdk_error(503, body(503), **{"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"}))
    assert failure is not None and failure.retry_after == 0.0


@pytest.mark.parametrize(
    "exc",
    [
        httpx.ConnectError("connection refused"),
        httpx.ReadTimeout("timed out"),
        httpx.RemoteProtocolError("peer closed connection"),
    ],
)
def test_transport_errors_are_transient(exc: Exception) -> None:
    failure = classify(exc)
    assert failure is not None and failure.kind is FailureClass.TRANSIENT


def test_sdk_error_without_response_is_transient_and_foreign_errors_unknown() -> None:
    failure = classify(errors.SDKError("No response received"))
    assert failure is not None and failure.kind is FailureClass.TRANSIENT
    assert classify(ValueError("not ours")) is None
