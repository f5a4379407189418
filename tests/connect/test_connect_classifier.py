"""The Connect classifier maps client and transport failures to the shared failure classes."""

from __future__ import annotations

import pytest
import requests
from connect.client import ClientError

from adapters.connect import ConnectPageError, classify_connect_error
from adapters.connect.settings import API_KEY_SECRET_SETTING
from adapters.failures import FailureClass


def client_error(status: int | None, headers: dict[str, str] | None = None, **body: object) -> ClientError:
    """A ClientError shaped like ConnectClient raises it: the HTTPError (with response) as cause."""
    error = ClientError(status_code=status, **body)  # type: ignore[arg-type]
    if status is not None:
        response = requests.Response()
        response.status_code = status
        response.headers.update(headers or {})
        try:
            raise error from requests.HTTPError(f"{status}", response=response)
        except ClientError as raised:
            return raised
    try:
        raise error from requests.ConnectionError("refused")
    except ClientError as raised:
        return raised


def test_unreachable_is_transient() -> None:
    failure = classify_connect_error(client_error(None))
    assert failure is not None and failure.kind is FailureClass.TRANSIENT
    assert "ConnectionError" in failure.message


def test_429_reads_retry_after_from_the_response() -> None:
    failure = classify_connect_error(client_error(429, {"Retry-After": "7"}))
    assert failure is not None
    assert failure.kind is FailureClass.RATE_LIMITED
    assert failure.retry_after == 7.0


def test_429_without_header_has_no_retry_after() -> None:
    failure = classify_connect_error(client_error(429))
    assert failure is not None and failure.kind is FailureClass.RATE_LIMITED and failure.retry_after is None


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_5xx_is_transient(status: int) -> None:
    failure = classify_connect_error(client_error(status, {"Retry-After": "3"}))
    assert failure is not None and failure.kind is FailureClass.TRANSIENT and failure.status == status
    assert failure.retry_after == 3.0


def test_400_is_invalid_and_carries_connect_error_body() -> None:
    failure = classify_connect_error(client_error(400, error_code="VAL_001", errors=["bad filter", "again"]))
    assert failure is not None and failure.kind is FailureClass.INVALID
    assert "VAL_001" in failure.message and "bad filter; again" in failure.message


@pytest.mark.parametrize("status", [401, 403])
def test_auth_names_the_api_key_secret_setting(status: int) -> None:
    failure = classify_connect_error(client_error(status, error_code="AUTH_001", errors=["nope"]))
    assert failure is not None and failure.kind is FailureClass.AUTH
    assert failure.hint is not None and API_KEY_SECRET_SETTING in failure.hint


def test_404_is_not_found() -> None:
    failure = classify_connect_error(client_error(404, error_code="NFND_000", errors=["missing"]))
    assert failure is not None and failure.kind is FailureClass.NOT_FOUND


@pytest.mark.parametrize(
    "exc",
    [
        requests.ConnectionError("refused"),
        requests.exceptions.ChunkedEncodingError("cut"),
        requests.Timeout("slow"),
        requests.exceptions.ReadTimeout("slow read"),
    ],
)
def test_transport_errors_are_transient(exc: Exception) -> None:
    failure = classify_connect_error(exc)
    assert failure is not None and failure.kind is FailureClass.TRANSIENT


def test_download_http_error_is_classified_by_status() -> None:
    response = requests.Response()
    response.status_code = 503
    response.headers["Retry-After"] = "4"
    response._content = b'{"error_code": "SYS_001", "errors": ["down"]}'
    failure = classify_connect_error(requests.HTTPError("503", response=response))
    assert failure is not None and failure.kind is FailureClass.TRANSIENT and failure.retry_after == 4.0
    assert "SYS_001" in failure.message


def test_inconsistent_page_is_invalid_and_unknown_errors_are_not_ours() -> None:
    failure = classify_connect_error(ConnectPageError("Content-Range mismatch"))
    assert failure is not None and failure.kind is FailureClass.INVALID
    assert classify_connect_error(ValueError("something else")) is None


def test_failure_messages_never_contain_the_key() -> None:
    key = "ApiKey SU-123-456-789:topsecretvalue"
    error = client_error(401, error_code="AUTH_001", errors=["Unauthorized"])
    failure = classify_connect_error(error)
    assert failure is not None
    assert key not in failure.message and "topsecretvalue" not in (failure.hint or "")


def test_unparseable_200_body_is_invalid_and_says_json() -> None:
    response = requests.Response()
    response.status_code = 200
    response.url = "http://h/public/v1/listings?limit=5"
    cause = requests.exceptions.JSONDecodeError("Expecting value", "{bad", 1)
    cause.response = response
    try:
        raise ClientError(status_code=200) from cause
    except ClientError as error:
        failure = classify_connect_error(error)
    assert failure is not None and failure.kind is FailureClass.INVALID
    assert "JSON" in failure.message and "/public/v1/listings" in failure.message
