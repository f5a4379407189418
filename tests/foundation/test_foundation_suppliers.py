"""SupplierLoad over real HTTP: paging, batching at 1000, atomic validation, dirty tracking."""

from __future__ import annotations

import pytest

from lib.api_client import ApiError
from lib.jobcontext import write_counters
from lib.objects.exceptions import ValidationError
from lib.objects.supplier import SupplierLoad
from sandbox.server import RunningServer
from tests.foundation.conftest import ContextFactory


def _add(load: SupplierLoad, n: int, start: int = 0) -> None:
    for i in range(start, start + n):
        s = load.new()
        s.supplier_number = f"SUP-{i:05d}"
        s.supplier_name = f"Supplier {i}"


def test_get_all_pages_through_every_supplier(make_context: ContextFactory) -> None:
    context = make_context()
    writer = SupplierLoad(context)
    _add(writer, 23)
    assert writer.save_all() == 23
    calls: list[dict[str, object]] = []
    original = context.api.get

    def spy(path: str, params: dict[str, object] | None = None, extra_headers: object = None) -> object:
        calls.append(dict(params or {}))
        return original(path, params=params)

    context.api.get = spy  # type: ignore[method-assign]
    reader = SupplierLoad(context, page_size=5)
    numbers = [s.supplier_number for s in reader.get_all()]
    assert numbers == [f"SUP-{i:05d}" for i in range(23)]
    assert [c["page"] for c in calls] == [1, 2, 3, 4, 5]
    assert all(c["limit"] == 5 for c in calls)


def test_get_all_survives_a_page_size_cap(nuntiq: RunningServer, make_context: ContextFactory) -> None:
    context = make_context()
    writer = SupplierLoad(context)
    _add(writer, 12)
    writer.save_all()
    nuntiq.set_faults(page_size_cap=4)
    assert len(list(SupplierLoad(context, page_size=10).get_all())) == 12


def test_save_all_splits_2500_rows_into_three_requests(
    nuntiq: RunningServer, make_context: ContextFactory
) -> None:
    context = make_context()
    load = SupplierLoad(context)
    _add(load, 2500)
    assert load.save_all() == 2500
    assert load.requests_sent == 3
    counters = write_counters(nuntiq, context.customer_number)
    assert counters["supplier_requests"] == 3
    assert counters["suppliers_written"] == 2500
    assert context.api.get("/v1/supplier", params={"limit": 1})["count"] == 2500
    assert load.dirty_count == 0
    assert load.save_all() == 0  # clean entities are not sent again


def test_validation_rejects_whole_batch_and_names_rows(
    nuntiq: RunningServer, make_context: ContextFactory
) -> None:
    context = make_context()
    load = SupplierLoad(context)
    _add(load, 3)
    bad = load.new()
    bad.supplier_number = "SUP-BAD"  # no supplier_name
    wrong_type = load.new()
    wrong_type.supplier_number = "SUP-TYPE"
    wrong_type.supplier_name = "Typed"
    wrong_type.is_active = "yes"
    loc = wrong_type.new_location()
    loc.location_name = "no code"
    with pytest.raises(ValidationError) as info:
        load.save_all()
    err = info.value
    assert err.field_errors["supplier_name"] == "Required field is missing"
    assert err.field_errors["is_active"].startswith("Expected bool")
    assert err.field_errors["locations[0].location_code"] == "Required field is missing"
    assert [(r["row"], r["key"]) for r in err.row_errors] == [(3, "SUP-BAD"), (4, "SUP-TYPE")]
    assert "SUP-BAD" in str(err) and "nothing was saved" in str(err)
    assert write_counters(nuntiq, context.customer_number).get("supplier_requests", 0) == 0
    assert context.api.get("/v1/supplier")["count"] == 0
    # fixing the rows makes the same batch go through
    bad.supplier_name = "Fixed"
    wrong_type.is_active = True
    loc.location_code = "MAIN"
    assert load.save_all() == 5


def test_only_dirty_entities_are_sent(make_context: ContextFactory) -> None:
    context = make_context()
    load = SupplierLoad(context)
    _add(load, 10)
    load.save_all()
    reader = SupplierLoad(context)
    suppliers = list(reader.get_all())
    assert reader.dirty_count == 0
    suppliers[4].supplier_name = "Renamed"
    address = suppliers[7].new_location()
    address.location_code = "WH"
    address.new_address().city = "Graz"
    assert reader.dirty_count == 2
    assert reader.save_all() == 2
    assert reader.get("SUP-00004").supplier_name == "Renamed"  # type: ignore[union-attr]
    stored = reader.get("SUP-00007")
    assert stored is not None
    assert stored.locations[0].addresses[0].city == "Graz"
    assert reader.get("NOPE") is None


def test_unknown_field_fails_on_assignment(make_context: ContextFactory) -> None:
    supplier = SupplierLoad(make_context()).new()
    with pytest.raises(AttributeError, match="supplier_nmae"):
        supplier.supplier_nmae = "typo"


def test_server_refuses_more_than_1000_rows(make_context: ContextFactory) -> None:
    context = make_context()
    rows = [{"supplier_number": f"S{i}", "supplier_name": "x"} for i in range(1001)]
    with pytest.raises(ApiError) as info:
        context.api.post("/v1/supplier", data={"items": rows})
    assert info.value.status_code == 400
    assert "at most 1000" in str(info.value)
    assert context.api.get("/v1/supplier")["count"] == 0


def test_server_validation_is_atomic(make_context: ContextFactory) -> None:
    context = make_context()
    rows = [{"supplier_number": "A", "supplier_name": "ok"}, {"supplier_number": "B"}]
    with pytest.raises(ApiError) as info:
        context.api.post("/v1/supplier", data={"items": rows})
    assert info.value.status_code == 400
    assert '"items[1].supplier_name"' in info.value.response_body
    assert context.api.get("/v1/supplier")["count"] == 0


def test_upsert_keeps_unsent_fields_and_merges_locations(make_context: ContextFactory) -> None:
    api = make_context().api
    first = {
        "supplier_number": "S1",
        "supplier_name": "One",
        "is_active": False,
        "locations": [{"location_code": "MAIN", "addresses": [{"city": "Rome", "country_code": "IT"}]}],
    }
    api.post("/v1/supplier", data={"items": [first]})
    api.post(
        "/v1/supplier",
        data={
            "items": [{"supplier_number": "S1", "locations": [{"location_code": "WH", "location_name": "W"}]}]
        },
    )
    stored = api.get("/v1/supplier/S1")
    assert stored["supplier_name"] == "One" and stored["is_active"] is False
    assert [loc["location_code"] for loc in stored["locations"]] == ["MAIN", "WH"]
    assert stored["locations"][0]["addresses"] == [{"city": "Rome", "country_code": "IT"}]
