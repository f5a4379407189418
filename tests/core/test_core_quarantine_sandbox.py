"""The sample connector's quarantine against the sandbox Nuntiq service: real HTTP, real rows."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from core_fakes import at

from adapters.cursor import parse_timestamp
from adapters.quarantine import QuarantineLimitExceeded, QuarantineStore
from connectors import sample_pull_suppliers
from lib.delta import get_delta_state
from lib.jobcontext import nuntiq_context
from sandbox.server import RunningServer

CUSTOMER = "40000002"


def supplier(n: int, minute: int, **extra: Any) -> dict[str, Any]:
    return {"number": f"SUP-{n}", "name": f"Supplier {n}", "updated_at": at(minute).isoformat(), **extra}


def run_connector(server: RunningServer, path: Path, rows: list[Any], **config: Any) -> dict[str, Any]:
    path.write_text(json.dumps({"suppliers": rows}), encoding="utf-8")
    settings = {
        "secrets": {"source_token": "tok-never-logged"},
        "config": {"connector_name": "sample", "suppliers_file": str(path), **config},
    }
    context = nuntiq_context(server, CUSTOMER, settings, params={"lookback_days": 36_500})
    result: dict[str, Any] = sample_pull_suppliers.run(context)
    return result


def saved_suppliers(server: RunningServer) -> dict[str, Any]:
    api = nuntiq_context(server, CUSTOMER, {}).api
    body = api.get("/v1/supplier", params={"page": 1, "limit": 1000})
    return {row["supplier_number"]: row for row in body["items"]}


def entries(server: RunningServer) -> dict[str, Any]:
    api = nuntiq_context(server, CUSTOMER, {}).api
    return {e.key: e for e in QuarantineStore(api, namespace="sample").entries()}


def cursor(server: RunningServer) -> Any:
    state = get_delta_state(nuntiq_context(server, CUSTOMER, {}).api, "sample", "suppliers")
    return parse_timestamp(state["cursor"]) if state else None


def test_poison_suppliers_are_quarantined_then_released_once_fixed(
    nuntiq: RunningServer, tmp_path: Path
) -> None:
    path = tmp_path / "suppliers.json"
    rows: list[Any] = [
        supplier(1, 1),
        supplier(2, 2, name=None),  # the Load rejects it: found by splitting the batch
        supplier(3, 3, updated_at="yesterday-ish"),  # the source cannot parse it
        supplier(4, 4),
    ]
    result = run_connector(nuntiq, path, rows)
    assert sorted(saved_suppliers(nuntiq)) == ["SUP-1", "SUP-4"]
    kept = entries(nuntiq)
    assert sorted(kept) == ["SUP-2", "SUP-3"]
    assert kept["SUP-2"].stage == "suppliers" and "supplier_name" in kept["SUP-2"].reason
    assert kept["SUP-3"].stage == "source" and "yesterday-ish" in kept["SUP-3"].reason
    assert result["quarantined"] == 2 and cursor(nuntiq) == at(4)
    # the export is fixed (same timestamps, behind the cursor): retried first, saved, released
    rows[1] = supplier(2, 2)
    rows[2] = supplier(3, 3)
    result = run_connector(nuntiq, path, rows)
    assert sorted(saved_suppliers(nuntiq)) == ["SUP-1", "SUP-2", "SUP-3", "SUP-4"]
    assert entries(nuntiq) == {} and result["summary"]["quarantine"]["released"] == 2
    assert cursor(nuntiq) == at(4)


def test_systematic_fault_fails_the_run_and_keeps_the_cursor(nuntiq: RunningServer, tmp_path: Path) -> None:
    path = tmp_path / "suppliers.json"
    run_connector(nuntiq, path, [supplier(1, 1)])
    schema_change = [supplier(n, n + 1, name=None) for n in range(2, 8)]  # every new row lacks its name
    with pytest.raises(QuarantineLimitExceeded, match="systematic"):
        run_connector(nuntiq, path, [supplier(1, 1), *schema_change], quarantine={"max_items": 3})
    assert cursor(nuntiq) == at(1) and sorted(saved_suppliers(nuntiq)) == ["SUP-1"]


def test_row_nuntiq_rejects_server_side_is_found_by_splitting(nuntiq: RunningServer, tmp_path: Path) -> None:
    """The Load accepts every row, Nuntiq refuses the batch (400): splitting finds the one row."""
    path = tmp_path / "suppliers.json"
    rows = [supplier(n, n) for n in range(1, 9)]
    with httpx.Client(base_url=nuntiq.url) as admin:
        admin.put("/_sandbox/nuntiq/poison/suppliers", json={"numbers": ["SUP-6"]}).raise_for_status()
        result = run_connector(nuntiq, path, rows)
        assert sorted(saved_suppliers(nuntiq)) == [f"SUP-{n}" for n in range(1, 9) if n != 6]
        kept = entries(nuntiq)
        assert list(kept) == ["SUP-6"] and "400" in kept["SUP-6"].reason
        assert "server-side" in kept["SUP-6"].reason and cursor(nuntiq) == at(8)
        assert result["summary"]["written"] == {"suppliers": 7}
        admin.delete("/_sandbox/nuntiq/poison/suppliers").raise_for_status()
    run_connector(nuntiq, path, rows)
    assert "SUP-6" in saved_suppliers(nuntiq) and entries(nuntiq) == {}
