"""Suppliers with their locations and addresses (``/v1/supplier``)."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from lib.api_client import ApiError
from lib.objects.base import BaseLoad, Entity, FieldSpec

_COUNTRY = r"[A-Z]{2}"


class Address(Entity):
    fields = {
        "street": FieldSpec(str, max_length=255),
        "city": FieldSpec(str, max_length=120),
        "postal_code": FieldSpec(str, max_length=20),
        "country_code": FieldSpec(str, pattern=_COUNTRY),
    }


class Location(Entity):
    fields = {
        "location_code": FieldSpec(str, required=True, max_length=64),
        "location_name": FieldSpec(str, max_length=255),
        "is_active": FieldSpec(bool),
    }
    children = {"addresses": Address}
    key_field = "location_code"

    def new_address(self) -> Address:
        address: Address = self._add_child("addresses")
        return address


class Supplier(Entity):
    fields = {
        "supplier_number": FieldSpec(str, required=True, max_length=64),
        "supplier_name": FieldSpec(str, required=True, max_length=255),
        "is_active": FieldSpec(bool),
        "id": FieldSpec(str, read_only=True),
        "created_at": FieldSpec(str, read_only=True),
        "updated_at": FieldSpec(str, read_only=True),
    }
    children = {"locations": Location}
    key_field = "supplier_number"

    def new_location(self) -> Location:
        location: Location = self._add_child("locations")
        return location


class SupplierLoad(BaseLoad[Supplier]):
    entity_class = Supplier
    path = "/v1/supplier"
    noun = "suppliers"

    def get(self, supplier_number: str) -> Supplier | None:
        """One supplier by number, or ``None`` if there is none."""
        try:
            data: Any = self.api.get(f"{self.path}/{quote(str(supplier_number), safe='')}")
        except ApiError as exc:
            if exc.status_code == 404:
                return None
            raise
        supplier: Supplier = Supplier.from_payload(data, load=self)
        return supplier
