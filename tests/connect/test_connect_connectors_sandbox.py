"""Both Connect connectors end to end: Connect sandbox -> connector -> Nuntiq sandbox."""

from __future__ import annotations

from typing import Any

import httpx

from connectors import connect_pull_billing_documents, connect_pull_suppliers
from connectors.connect_pull_suppliers import split_headquarters
from lib.jobcontext import nuntiq_context
from sandbox.connect.app import DEFAULT_API_KEY
from sandbox.server import RunningServer
from tests.connect.conftest import reset_connect


def settings(connect: RunningServer, name: str) -> dict[str, Any]:
    return {
        "customer_number": "10000001",
        "secrets": {"connect_api_key": DEFAULT_API_KEY},
        "config": {"connector_name": name, "connect_endpoint": connect.url, "connect_page_size": 100},
    }


def all_pages(context: Any, path: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    page = 1
    while True:
        body = context.api.get(path, params={"page": page, "limit": 100})
        items += body["items"]
        if len(items) >= body["count"] or not body["items"]:
            return items
        page += 1


def truth(connect: RunningServer) -> dict[str, Any]:
    result: dict[str, Any] = httpx.get(f"{connect.url}/_sandbox/connect/truth", timeout=60).json()
    return result


def test_suppliers_every_vendor_lands_once_despite_capped_pages_and_updates(
    connect_server: RunningServer, nuntiq: RunningServer
) -> None:
    reset_connect(connect_server, seed=5, counts={"listings": 5000})
    connect_server.set_faults(page_size_cap=70, mutate_rate=0.1, seed=2)
    context = nuntiq_context(
        nuntiq, settings=settings(connect_server, "connect_vendors"), params={"lookback_days": 3650}
    )
    result = connect_pull_suppliers.run(context)
    stats = connect_server.stats()
    connect_server.set_faults()
    expected = truth(connect_server)
    assert stats["connect_mutated"] >= 400  # ~10% of 5,000 touched mid-sync
    suppliers = all_pages(context, "/v1/supplier")
    numbers = [s["supplier_number"] for s in suppliers]
    assert len(numbers) == len(set(numbers)), "no vendor twice"
    assert set(numbers) == set(expected["vendor_ids"]), "every vendor on a listing lands"
    assert result["items_read"] >= 5000 and result["cursor_after"] is not None
    by_number = {s["supplier_number"]: s for s in suppliers}
    for vendor_id in expected["vendor_ids"]:
        partner = expected["partners"][vendor_id]
        supplier = by_number[vendor_id]
        assert supplier["supplier_name"] == partner["name"]
        assert supplier["is_active"] is (partner["status"] == "active")
        locations = supplier.get("locations") or []
        if partner["headquarters"]:
            address = split_headquarters(partner["headquarters"])
            assert address is not None
            assert locations[0]["location_code"] == "MAIN"
            assert locations[0]["addresses"][0]["country_code"] == address["country_code"]
        else:
            assert locations == []


def test_billing_documents_upload_each_file_exactly_once_across_runs(
    connect_server: RunningServer, nuntiq: RunningServer
) -> None:
    reset_connect(connect_server, seed=6, counts={"billing_batches": 12})
    config = settings(connect_server, "connect_billing_files")
    first = connect_pull_billing_documents.run(
        nuntiq_context(nuntiq, settings=config, params={"lookback_days": 3650})
    )
    with connect_server.admin() as admin:
        admin.post(
            "/_sandbox/connect/mutate", json={"collection": "billing_batches", "add": 3}
        ).raise_for_status()
    second = connect_pull_billing_documents.run(nuntiq_context(nuntiq, settings=config))
    third = connect_pull_billing_documents.run(nuntiq_context(nuntiq, settings=config))
    expected = truth(connect_server)["billing_files"]
    context = nuntiq_context(nuntiq, settings=config)
    documents = all_pages(context, "/v1/source-documents")
    files = [f for d in documents for f in d["files"]]
    assert len(documents) == len(expected) == first["uploaded"] + second["uploaded"]
    assert third["uploaded"] == 0
    assert sorted((f["file_name"], f["sha256"]) for f in files) == sorted(
        (e["name"], e["sha256"]) for e in expected
    )
    assert second["cursor_before"] == first["cursor_after"]
