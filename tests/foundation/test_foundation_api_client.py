"""ApiClient error semantics and the service's auth and customer isolation, over real HTTP."""

from __future__ import annotations

import io
import socket
from collections.abc import Callable

import pytest

from lib.api_client import ApiClient, ApiError
from lib.jobcontext import issue_job_token
from sandbox.server import RunningServer
from tests.foundation.conftest import ContextFactory


def test_4xx_raises_api_error_with_server_message(make_context: ContextFactory) -> None:
    api = make_context().api
    with pytest.raises(ApiError) as info:
        api.get("/v1/source-documents/does-not-exist")
    assert info.value.status_code == 404
    assert str(info.value) == "API error 404: source document 'does-not-exist' not found"
    assert '"message"' in info.value.response_body


@pytest.mark.parametrize("status", [500, 502, 503, 429])
def test_5xx_and_429_raise_api_error(
    nuntiq: RunningServer, make_context: ContextFactory, status: int
) -> None:
    api = make_context().api
    nuntiq.set_faults(script=[status])
    with pytest.raises(ApiError) as info:
        api.get("/v1/supplier")
    assert info.value.status_code == status
    assert str(info.value).startswith(f"API error {status}: ")
    assert api.get("/v1/supplier")["count"] == 0  # the script is spent; the next call passes


def test_unreachable_server_is_status_zero() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    api = ApiClient(f"http://127.0.0.1:{port}", "tok-unreachable-123456", "10000001", timeout=5)
    with pytest.raises(ApiError) as info:
        api.get("/v1/supplier")
    assert info.value.status_code == 0
    assert str(info.value).startswith("API error 0: could not reach the server")
    assert "tok-unreachable-123456" not in str(info.value)


def test_dropped_connection_is_status_zero(nuntiq: RunningServer, make_context: ContextFactory) -> None:
    api = make_context().api
    nuntiq.set_faults(script=["drop"])
    with pytest.raises(ApiError) as info:
        api.get("/v1/supplier")
    assert info.value.status_code == 0


def test_timeout_is_status_zero(nuntiq: RunningServer, customer: str) -> None:
    token = issue_job_token(nuntiq, customer)
    api = ApiClient(nuntiq.url, token, customer, timeout=0.2)
    nuntiq.set_faults(latency_ms=1500, path_pattern="^/v1/supplier$")
    with pytest.raises(ApiError) as info:
        api.get("/v1/supplier")
    assert info.value.status_code == 0


def test_dropped_download_is_status_zero(nuntiq: RunningServer, make_context: ContextFactory) -> None:
    api = make_context().api
    doc = api.upload_source_documents([("a.txt", b"hello", "text/plain")])
    nuntiq.set_faults(script=["drop"])
    with pytest.raises(ApiError) as info:
        api.download_attachment(doc["files"][0]["attachment_token"])
    assert info.value.status_code == 0


def test_bad_token_is_401_and_token_never_in_error(nuntiq: RunningServer) -> None:
    api = ApiClient(nuntiq.url, "not-a-real-token-abcdef", "10000001")
    with pytest.raises(ApiError) as info:
        api.get("/v1/supplier")
    assert info.value.status_code == 401
    assert "not-a-real-token-abcdef" not in str(info.value) + info.value.response_body
    assert "not-a-real-token-abcdef" not in repr(api)


def test_customer_header_must_match_token(
    nuntiq: RunningServer, customer: str, new_customer: Callable[[], str]
) -> None:
    token = issue_job_token(nuntiq, customer)
    assert ApiClient(nuntiq.url, token, customer).get("/v1/supplier")["count"] == 0
    with pytest.raises(ApiError) as info:
        ApiClient(nuntiq.url, token, new_customer()).get("/v1/supplier")
    assert info.value.status_code == 401
    assert "X-Customer-Number" in str(info.value)


def test_customers_never_see_each_other(
    make_context: ContextFactory, new_customer: Callable[[], str]
) -> None:
    one = make_context().api
    two = make_context(new_customer()).api
    one.post("/v1/supplier", data={"items": [{"supplier_number": "S1", "supplier_name": "Mine"}]})
    doc = one.upload_source_documents([("a.pdf", b"%PDF-1.4 one", "application/pdf")])
    one.put("/v1/custom-data/ledger", data={"rows": [{"key": "k", "value": 1}]})
    run = one.post("/v1/delta/runs", data={"connector_name": "c", "stream": "s"})
    one.post(f"/v1/delta/runs/{run['run_id']}/complete", data={"new_cursor": "2026-01-01T00:00:00Z"})

    assert two.get("/v1/supplier")["count"] == 0
    assert two.get("/v1/source-documents")["count"] == 0
    assert two.get("/v1/custom-data/ledger")["count"] == 0
    assert two.get("/v1/delta/state")["items"] == []
    assert (
        two.post("/v1/delta/runs", data={"connector_name": "c", "stream": "s"})["lower_bound_cursor"] is None
    )
    for call in (
        lambda: two.get(f"/v1/source-documents/{doc['id']}"),
        lambda: two.download_attachment(doc["files"][0]["attachment_token"]),
        lambda: two.get("/v1/supplier/S1"),
        lambda: two.get("/v1/custom-data/ledger/k"),
    ):
        with pytest.raises(ApiError) as info:
            call()
        assert info.value.status_code == 404
    # writes by the second customer do not touch the first one's rows
    two.post("/v1/supplier", data={"items": [{"supplier_number": "S1", "supplier_name": "Theirs"}]})
    assert one.get("/v1/supplier/S1")["supplier_name"] == "Mine"


def test_json_verbs_and_empty_bodies(make_context: ContextFactory) -> None:
    api = make_context().api
    assert api.put("/v1/custom-data/t", data={"rows": [{"key": "a", "value": {"x": [1, 2]}}]})["written"] == 1
    assert api.get("/v1/custom-data/t/a")["value"] == {"x": [1, 2]}
    assert api.delete("/v1/custom-data/t", data={"keys": ["a", "missing"]}) == {"deleted": 1}


def test_upload_accepts_streams(make_context: ContextFactory) -> None:
    api = make_context().api
    doc = api.upload_source_documents([("s.bin", io.BytesIO(b"\x00\x01" * 1000), "application/octet-stream")])
    assert doc["files"][0]["size"] == 2000
    with pytest.raises(ValueError, match="at least one file"):
        api.upload_source_documents([])
