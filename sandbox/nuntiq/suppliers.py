"""``/v1/supplier``: paged listing and batch upsert by ``supplier_number``.

A batch is one transaction: if any row is invalid the answer is 400 with
``field_errors`` naming ``items[i].field`` and nothing is written. More than 1000
rows in one request is refused, as the real API does.

Poison injection for the proof suites: ``PUT /_sandbox/nuntiq/poison/suppliers`` with
``{"numbers": [...]}`` makes the server (not the client-side Load) reject any batch that
holds one of those supplier numbers, the way real Nuntiq validation can reject a row the
framework's Load accepted; ``DELETE`` clears it.
"""

from __future__ import annotations

import json
import re
import sqlite3
from typing import Any

from fastapi import APIRouter, Depends, Request

from sandbox.nuntiq.auth import current_customer, job_token, store_of
from sandbox.nuntiq.errors import NuntiqError
from sandbox.nuntiq.paging import page_rows, page_window
from sandbox.nuntiq.store import dumps, new_id

MAX_ROWS = 1000
router = APIRouter()

_STR_LIMITS = {"supplier_number": 64, "supplier_name": 255}
_LOCATION_LIMITS = {"location_code": 64, "location_name": 255}
_ADDRESS_FIELDS = ("street", "city", "postal_code", "country_code")


def _row(row: sqlite3.Row) -> dict[str, Any]:
    return {
        "id": row["id"],
        "supplier_number": row["supplier_number"],
        "supplier_name": row["supplier_name"],
        "is_active": bool(row["is_active"]),
        "locations": json.loads(row["locations"]),
        "created_at": row["created_at"],
        "updated_at": row["updated_at"],
    }


@router.get("/v1/supplier")
def list_suppliers(
    request: Request, page: int = 1, limit: int = 100, customer: str = Depends(current_customer)
) -> dict[str, Any]:
    page, limit, offset = page_window(request, page, limit)
    with store_of(request).read() as conn:
        count, rows = page_rows(conn, "suppliers", "customer = ?", (customer,), limit, offset)
    return {"items": [_row(r) for r in rows], "count": count, "page": page}


@router.get("/v1/supplier/{supplier_number}")
def get_supplier(request: Request, supplier_number: str, customer: str = Depends(current_customer)) -> Any:
    with store_of(request).read() as conn:
        row = conn.execute(
            "SELECT * FROM suppliers WHERE customer = ? AND supplier_number = ?", (customer, supplier_number)
        ).fetchone()
    if row is None:
        raise NuntiqError(404, f"supplier {supplier_number!r} not found")
    return _row(row)


def _check_str(value: Any, where: str, limit: int | None, errors: dict[str, str], required: bool) -> None:
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            errors[where] = "Required field is missing"
        return
    if not isinstance(value, str):
        errors[where] = f"Expected str, got {type(value).__name__}"
    elif limit is not None and len(value) > limit:
        errors[where] = f"Longer than {limit} characters"


def _validate(items: list[Any], existing: set[str]) -> dict[str, str]:
    errors: dict[str, str] = {}
    for i, item in enumerate(items):
        at = f"items[{i}]"
        if not isinstance(item, dict):
            errors[at] = "Expected an object"
            continue
        number = item.get("supplier_number")
        _check_str(number, f"{at}.supplier_number", 64, errors, required=True)
        is_new = number not in existing
        _check_str(item.get("supplier_name"), f"{at}.supplier_name", 255, errors, required=is_new)
        if "is_active" in item and item["is_active"] is not None and not isinstance(item["is_active"], bool):
            errors[f"{at}.is_active"] = "Expected bool"
        locations = item.get("locations")
        if locations is None:
            continue
        if not isinstance(locations, list):
            errors[f"{at}.locations"] = "Expected a list"
            continue
        for j, loc in enumerate(locations):
            lat = f"{at}.locations[{j}]"
            if not isinstance(loc, dict):
                errors[lat] = "Expected an object"
                continue
            _check_str(loc.get("location_code"), f"{lat}.location_code", 64, errors, required=True)
            _check_str(loc.get("location_name"), f"{lat}.location_name", 255, errors, required=False)
            for k, addr in enumerate(loc.get("addresses") or []):
                aat = f"{lat}.addresses[{k}]"
                if not isinstance(addr, dict):
                    errors[aat] = "Expected an object"
                    continue
                for name in _ADDRESS_FIELDS:
                    _check_str(addr.get(name), f"{aat}.{name}", 255, errors, required=False)
                country = addr.get("country_code")
                if isinstance(country, str) and country and not re.fullmatch(r"[A-Z]{2}", country):
                    errors[f"{aat}.country_code"] = "Expected a two-letter upper-case country code"
    return errors


def _merge_locations(current: list[dict[str, Any]], incoming: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Upsert locations by ``location_code``; given addresses replace that location's addresses."""
    by_code = {loc["location_code"]: loc for loc in current}
    for loc in incoming:
        merged = dict(by_code.get(loc["location_code"], {"addresses": [], "is_active": True}))
        for key in ("location_code", "location_name", "is_active"):
            if key in loc and loc[key] is not None:
                merged[key] = loc[key]
        if "addresses" in loc and loc["addresses"] is not None:
            merged["addresses"] = [
                {name: a.get(name) for name in _ADDRESS_FIELDS if a.get(name) is not None}
                for a in loc["addresses"]
            ]
        by_code[loc["location_code"]] = merged
    return list(by_code.values())


@router.post("/v1/supplier")
async def upsert_suppliers(request: Request, customer: str = Depends(current_customer)) -> dict[str, Any]:
    try:
        body = await request.json()
    except ValueError:
        raise NuntiqError(400, "request body is not valid JSON") from None
    items = body.get("items") if isinstance(body, dict) else body
    if isinstance(items, dict):
        items = [items]
    if not isinstance(items, list):
        raise NuntiqError(400, "expected {'items': [...]} or a list of suppliers")
    if len(items) > MAX_ROWS:
        raise NuntiqError(400, f"too many rows: {len(items)} (at most {MAX_ROWS} per request)")
    store = store_of(request)
    created = updated = unchanged = 0
    with store.tx() as conn:
        existing: set[str] = set()
        for item in items:
            number = item.get("supplier_number") if isinstance(item, dict) else None
            if (
                isinstance(number, str)
                and conn.execute(
                    "SELECT 1 FROM suppliers WHERE customer = ? AND supplier_number = ?", (customer, number)
                ).fetchone()
            ):
                existing.add(number)
        errors = _validate(items, existing)
        poisoned: set[str] = getattr(request.app.state, "poisoned_suppliers", set())
        for i, item in enumerate(items):
            if isinstance(item, dict) and item.get("supplier_number") in poisoned:
                errors[f"items[{i}].supplier_number"] = "Rejected by server-side validation"
        if errors:
            summary = "; ".join(f"{k}: {v}" for k, v in list(errors.items())[:10])
            raise NuntiqError(400, f"validation failed, nothing was saved: {summary}", errors)
        for item in items:
            now = store.now()
            number = item["supplier_number"]
            row = conn.execute(
                "SELECT * FROM suppliers WHERE customer = ? AND supplier_number = ?", (customer, number)
            ).fetchone()
            incoming_locations = item.get("locations") or []
            if row is None:
                conn.execute(
                    "INSERT INTO suppliers (customer, supplier_number, id, supplier_name, is_active, "
                    "locations, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        customer,
                        number,
                        new_id(),
                        item["supplier_name"],
                        1 if item.get("is_active", True) is not False else 0,
                        dumps(_merge_locations([], incoming_locations)),
                        now,
                        now,
                    ),
                )
                created += 1
                store.log_write(conn, customer, job_token(request), "supplier", number)
            else:
                name = item.get("supplier_name") or row["supplier_name"]
                active = row["is_active"] if item.get("is_active") is None else int(bool(item["is_active"]))
                locations = dumps(_merge_locations(json.loads(row["locations"]), incoming_locations))
                if (name, active, locations) == (row["supplier_name"], row["is_active"], row["locations"]):
                    unchanged += 1  # an idempotent re-delivery: nothing to write
                    continue
                conn.execute(
                    "UPDATE suppliers SET supplier_name = ?, is_active = ?, locations = ?, updated_at = ? "
                    "WHERE pk = ?",
                    (name, active, locations, now, row["pk"]),
                )
                updated += 1
                store.log_write(conn, customer, job_token(request), "supplier", number)
        store.bump(conn, customer, "suppliers_written", len(items))
        store.bump(conn, customer, "suppliers_changed", created + updated)
        store.bump(conn, customer, "supplier_requests")
    return {"created": created, "updated": updated, "unchanged": unchanged, "count": len(items)}


@router.put("/_sandbox/nuntiq/poison/suppliers")
async def poison_suppliers(request: Request) -> dict[str, Any]:
    body = await request.json()
    numbers = body.get("numbers") if isinstance(body, dict) else None
    if not isinstance(numbers, list) or not all(isinstance(n, str) for n in numbers):
        raise NuntiqError(400, "expected {'numbers': [supplier numbers]}")
    request.app.state.poisoned_suppliers = set(numbers)
    return {"poisoned": sorted(numbers)}


@router.delete("/_sandbox/nuntiq/poison/suppliers")
def clear_poisoned_suppliers(request: Request) -> dict[str, Any]:
    request.app.state.poisoned_suppliers = set()
    return {"poisoned": []}
