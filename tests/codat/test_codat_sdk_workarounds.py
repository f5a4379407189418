"""The codat-files 0.3.0 defects, each shown on the raw SDK and fixed behind the adapter.

Each "raw" test asserts the defect is still there. When an SDK upgrade fixes one, its
raw test fails: that is the signal to drop the matching workaround in
adapters/codat/http.py / client.py (and this test with it).
"""

from __future__ import annotations

import io
from pathlib import Path

import httpx
import pytest
from codat_files import CodatFiles
from codat_files.models import errors, operations

from adapters.codat.client import NO_SDK_RETRIES, CodatFilesClient, build_sdk
from adapters.codat.errors import classify
from adapters.codat.settings import CodatSettings, auth_header
from adapters.failures import FailureClass
from sandbox.server import RunningServer
from tests.codat.conftest import API_KEY, COMPANY, CONNECTION, admin_json


def raw_sdk(settings: CodatSettings, http: httpx.Client | None = None) -> CodatFiles:
    """The SDK on a plain ``httpx.Client``: none of the adapter's fixes in the way."""
    return CodatFiles(
        auth_header=auth_header(API_KEY),
        server_url=settings.server_url,
        client=http or httpx.Client(timeout=10),
        retry_config=NO_SDK_RETRIES,
    )


# -- (a) download on an error status ---------------------------------------------------


def test_raw_sdk_download_error_raises_response_not_read(settings: CodatSettings) -> None:
    sdk = raw_sdk(settings)
    with pytest.raises(httpx.ResponseNotRead):
        sdk.files.download_files(request=operations.DownloadFilesRequest(company_id="no-such-company"))


def test_patched_download_error_is_typed_and_classified(client: CodatFilesClient, tmp_path: Path) -> None:
    with pytest.raises(errors.Schema) as info:
        client.download_archive("no-such-company", "2026-01-05", tmp_path / "a.zip")
    failure = classify(info.value)
    assert failure is not None and failure.kind is FailureClass.NOT_FOUND
    assert "company no-such-company" in failure.message
    assert not (tmp_path / "a.zip").exists()


# -- (b) upload part name and one file per call -----------------------------------------


def _upload_request(name: str = "a.pdf") -> operations.UploadFilesRequest:
    return operations.UploadFilesRequest.model_validate(
        {
            "company_id": COMPANY,
            "connection_id": CONNECTION,
            "file_upload": {"file": {"content": b"%PDF-1.4 x", "file_name": name}},
        }
    )


def test_raw_sdk_upload_sends_part_named_filename(settings: CodatSettings, codat: RunningServer) -> None:
    sent: list[httpx.Request] = []
    http = httpx.Client(event_hooks={"request": [sent.append]}, timeout=10)
    sdk = raw_sdk(settings, http)
    with pytest.raises(errors.Schema) as info:
        sdk.files.upload_files(request=_upload_request())
    assert b'name="fileName"' in sent[0].read()
    assert "parts named 'file'" in str(info.value)
    assert admin_json(codat, "GET", "/_sandbox/codat/uploads")["files"] == []


def test_patched_upload_sends_file_parts_in_one_request(
    settings: CodatSettings, codat: RunningServer
) -> None:
    sent: list[httpx.Request] = []
    http = httpx.Client(event_hooks={"request": [sent.append]}, timeout=10)
    client = CodatFilesClient.create(settings, API_KEY, http=http)
    client.upload(
        COMPANY,
        CONNECTION,
        [("a.pdf", b"%PDF-1.4 a", "application/pdf"), ("b.csv", io.BytesIO(b"x,y\n1,2\n"), "text/csv")],
    )
    body = sent[0].read()
    assert body.count(b'name="file"') == 2 and b'name="fileName"' not in body
    uploads = admin_json(codat, "GET", "/_sandbox/codat/uploads")
    assert uploads["requests"] == 1
    assert [f["file_name"] for f in uploads["files"]] == ["a.pdf", "b.csv"]


def test_plain_sdk_call_through_patched_client_gets_part_renamed(
    settings: CodatSettings, codat: RunningServer
) -> None:
    sdk = build_sdk(settings, API_KEY)
    sdk.files.upload_files(request=_upload_request("single.pdf"))
    uploads = admin_json(codat, "GET", "/_sandbox/codat/uploads")
    assert [f["file_name"] for f in uploads["files"]] == ["single.pdf"]


# -- (c) Retry-After and the real status are lost on typed errors -----------------------


def test_raw_sdk_typed_error_keeps_no_response(settings: CodatSettings, codat: RunningServer) -> None:
    codat.set_faults(script=[429], retry_after=7)
    sdk = build_sdk(settings, API_KEY)
    with pytest.raises(errors.Schema) as info:
        sdk.files.list_files(request=operations.ListFilesRequest(company_id=COMPANY))
    assert getattr(info.value, "raw_response", None) is None
    failure = classify(info.value)
    # the SDK error alone says 429 only through the body, and nothing about Retry-After
    assert failure is not None and failure.retry_after is None


def test_patched_typed_error_carries_retry_after(client: CodatFilesClient, codat: RunningServer) -> None:
    codat.set_faults(script=[429], retry_after=7)
    with pytest.raises(errors.Schema) as info:
        client.list_files(COMPANY)
    failure = classify(info.value)
    assert failure is not None
    assert failure.kind is FailureClass.RATE_LIMITED
    assert failure.retry_after == 7
    assert failure.status == 429


# -- SDK retries are off ------------------------------------------------------------------


def test_sdk_makes_exactly_one_request_on_503(client: CodatFilesClient, codat: RunningServer) -> None:
    codat.set_faults(script=[503, 503, 503])
    with pytest.raises(errors.Schema):
        client.list_files(COMPANY)
    assert codat.stats()["requests"] == 1
