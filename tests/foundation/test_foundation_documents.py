"""Source documents, attachments, invoices and custom data rows through context.api."""

from __future__ import annotations

import hashlib

import pytest

from lib.api_client import ApiError
from sandbox.server import RunningServer
from tests.foundation.conftest import ContextFactory


def test_upload_list_download_with_sha256(make_context: ContextFactory) -> None:
    api = make_context().api
    pdf = b"%PDF-1.7\n" + bytes(range(256)) * 300
    csv = b"a,b\n1,2\n"
    doc = api.upload_source_documents(
        [("invoice.pdf", pdf, "application/pdf"), ("lines.csv", csv, "text/csv")],
        document_type="invoice",
        external_reference="ext-42",
        metadata={"source": "codat", "n": 2},
    )
    assert doc["id"] and doc["created_at"].endswith("Z")
    assert doc["document_type"] == "invoice" and doc["external_reference"] == "ext-42"
    assert doc["properties"]["metadata"] == {"source": "codat", "n": 2}
    files = {f["file_name"]: f for f in doc["files"]}
    assert files["invoice.pdf"]["size"] == len(pdf)
    assert files["invoice.pdf"]["sha256"] == hashlib.sha256(pdf).hexdigest()
    assert files["lines.csv"]["media_type"] == "text/csv"
    assert api.download_attachment(files["invoice.pdf"]["attachment_token"]) == pdf
    assert api.download_attachment(files["lines.csv"]["attachment_token"]) == csv
    assert api.get(f"/v1/source-documents/{doc['id']}") == doc
    listed = api.get("/v1/source-documents", params={"external_reference": "ext-42"})
    assert listed["count"] == 1 and listed["items"][0]["id"] == doc["id"]


def test_every_upload_is_a_new_document(make_context: ContextFactory) -> None:
    api = make_context().api
    first = api.upload_source_documents([("a.txt", b"same", "text/plain")])
    second = api.upload_source_documents([("a.txt", b"same", "text/plain")])
    assert first["id"] != second["id"]
    assert first["files"][0]["sha256"] == second["files"][0]["sha256"]
    assert api.get("/v1/source-documents")["count"] == 2


def test_listing_is_ordered_paged_and_filtered_by_created_after(
    nuntiq: RunningServer, make_context: ContextFactory
) -> None:
    api = make_context().api
    docs = [api.upload_source_documents([(f"f{i}.txt", f"{i}".encode(), "text/plain")]) for i in range(7)]
    pages = [api.get("/v1/source-documents", params={"page": p, "limit": 3}) for p in (1, 2, 3)]
    assert [p["count"] for p in pages] == [7, 7, 7]
    ids = [d["id"] for p in pages for d in p["items"]]
    assert ids == [d["id"] for d in docs]
    after = api.get("/v1/source-documents", params={"created_after": docs[4]["created_at"]})
    assert [d["id"] for d in after["items"]] == [docs[5]["id"], docs[6]["id"]]
    with pytest.raises(ApiError) as info:
        api.get("/v1/source-documents", params={"created_after": "yesterday"})
    assert info.value.status_code == 400
    nuntiq.set_faults(page_size_cap=2)
    assert len(api.get("/v1/source-documents", params={"limit": 50})["items"]) == 2


def test_invoice_attachments_and_lifecycle_messages(make_context: ContextFactory) -> None:
    api = make_context().api
    invoice = api.post(
        "/v1/invoices", data={"invoice_number": "INV-1", "currency": "EUR", "total_amount": 12.5}
    )
    result = api.upload_invoice_attachments(
        [("scan.png", b"\x89PNG....", "image/png")], invoice_id=invoice["id"]
    )
    assert result["files"][0]["sha256"] == hashlib.sha256(b"\x89PNG....").hexdigest()
    api.post(
        f"/v1/invoices/{invoice['id']}/lifecycle-messages", data={"level": "info", "message": "Posted to ERP"}
    )
    messages = api.get(f"/v1/invoices/{invoice['id']}/lifecycle-messages")
    assert [(m["level"], m["message"]) for m in messages["items"]] == [("info", "Posted to ERP")]
    stored = api.get(f"/v1/invoices/{invoice['id']}")
    assert stored["currency"] == "EUR" and len(stored["attachments"]) == 1
    with pytest.raises(ApiError) as info:
        api.post("/v1/invoices/nope/lifecycle-messages", data={"message": "x"})
    assert info.value.status_code == 404
    with pytest.raises(ApiError) as info:
        api.post(f"/v1/invoices/{invoice['id']}/lifecycle-messages", data={"level": "loud", "message": "x"})
    assert info.value.status_code == 400


def test_custom_data_rows(make_context: ContextFactory) -> None:
    api = make_context().api
    rows = [{"key": f"doc:{i:03d}", "value": {"sha256": f"h{i}", "state": "sent"}} for i in range(25)]
    rows.append({"key": "other:1", "value": None})
    assert api.put("/v1/custom-data/ledger", data={"rows": rows})["written"] == 26
    page1 = api.get("/v1/custom-data/ledger", params={"key_prefix": "doc:", "page": 1, "limit": 10})
    assert page1["count"] == 25 and len(page1["items"]) == 10
    assert page1["items"][0]["key"] == "doc:000" and page1["items"][0]["updated_at"].endswith("Z")
    api.put("/v1/custom-data/ledger", data={"rows": [{"key": "doc:000", "value": {"state": "done"}}]})
    assert api.get("/v1/custom-data/ledger/doc:000")["value"] == {"state": "done"}
    assert api.delete("/v1/custom-data/ledger", data={"keys": ["doc:000", "doc:001"]})["deleted"] == 2
    assert api.get("/v1/custom-data/ledger")["count"] == 24
    assert api.get("/v1/custom-data/another")["count"] == 0
    with pytest.raises(ApiError) as info:
        api.put("/v1/custom-data/bad name", data={"rows": []})
    assert info.value.status_code == 400
    with pytest.raises(ApiError) as info:
        api.put("/v1/custom-data/t", data={"rows": [{"key": str(i), "value": i} for i in range(1001)]})
    assert info.value.status_code == 400
