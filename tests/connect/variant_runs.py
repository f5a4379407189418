"""Running the Connect connectors against one set of sandbox variants, and checking them.

Shared by the one-variant-at-a-time test in ``make test`` and the full cross product in
``make variants-connect``: each run starts from a freshly generated sandbox, pulls
suppliers from listings and billing files as documents into a fresh Nuntiq sandbox,
and compares what landed with the Connect sandbox's ground truth.
"""

from __future__ import annotations

from typing import Any

import httpx

from connectors import connect_pull_billing_documents, connect_pull_suppliers
from connectors.connect_pull_suppliers import headquarters_address
from lib.jobcontext import nuntiq_context
from sandbox.connect.app import DEFAULT_API_KEY, headquarters_object
from sandbox.connect.variants import ConnectVariants
from sandbox.server import RunningServer
from tests.connect.conftest import reset_connect


def settings(connect: RunningServer, name: str, customer: str) -> dict[str, Any]:
    """Shipped defaults: no page size is configured, so 1000 is asked first."""
    return {
        "customer_number": customer,
        "secrets": {"connect_api_key": DEFAULT_API_KEY},
        "config": {"connector_name": name, "connect_endpoint": connect.url},
    }


def all_pages(context: Any, path: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    page = 1
    while True:
        body = context.api.get(path, params={"page": page, "limit": 100})
        items += body["items"]
        if not body["items"]:
            return items
        page += 1


def run_connectors(
    connect: RunningServer, nuntiq: RunningServer, variants: ConnectVariants, seed: int
) -> None:
    """Both connectors under ``variants``; raises AssertionError naming what went wrong."""
    reset_connect(connect, seed=seed, counts={"listings": 1500, "billing_batches": 5})
    with connect.admin() as admin:
        admin.put("/_sandbox/connect/variants", json=variants.model_dump()).raise_for_status()
    label = variants.label()
    customer = f"3{seed:07d}"  # a Nuntiq customer of its own: runs never see each other's rows

    suppliers_context = nuntiq_context(
        nuntiq, settings=settings(connect, "vendors", customer), params={"lookback_days": 3650}
    )
    result = connect_pull_suppliers.run(suppliers_context)
    truth: dict[str, Any] = httpx.get(f"{connect.url}/_sandbox/connect/truth", timeout=60).json()
    suppliers = {s["supplier_number"]: s for s in all_pages(suppliers_context, "/v1/supplier")}
    assert set(suppliers) == set(truth["vendor_ids"]), f"{label}: vendors missing"
    assert result["items_read"] >= 1500, f"{label}: {result['items_read']} listings read"
    for vendor_id in truth["vendor_ids"]:
        partner = truth["partners"][vendor_id]
        expected = headquarters_address(partner["headquarters"])
        if variants.headquarters == "object":
            assert expected == headquarters_address(headquarters_object(partner["headquarters"])) or (
                expected is not None and "country_code" not in expected
            ), f"{label}: the two headquarters forms disagree for {vendor_id}"
        locations = suppliers[vendor_id].get("locations") or []
        if expected:
            assert locations, f"{label}: {vendor_id} has no headquarters location"
            assert locations[0]["addresses"][0]["street"] == expected["street"], label
        else:
            assert locations == [], label

    billing_context = nuntiq_context(
        nuntiq, settings=settings(connect, "billing", customer), params={"lookback_days": 3650}
    )
    connect_pull_billing_documents.run(billing_context)
    again = connect_pull_billing_documents.run(
        nuntiq_context(nuntiq, settings=settings(connect, "billing", customer))
    )
    documents = all_pages(billing_context, "/v1/source-documents")
    landed = sorted((f["file_name"], f["sha256"]) for d in documents for f in d["files"])
    expected_files = sorted((f["name"], f["sha256"]) for f in truth["billing_files"])
    assert landed == expected_files, f"{label}: billing files missing or twice"
    assert again["uploaded"] == 0, f"{label}: a rerun uploaded again"
