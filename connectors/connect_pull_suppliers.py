"""Pull the vendors seen on CloudBlue Connect listings into Nuntiq as suppliers.

Listings are read incrementally (keyset paged by ``updated``); every vendor seen on a
changed listing is enriched from ``/partners`` (looked up once per run, a batch of
listings' vendors per list call) and
upserted as a supplier: number = vendor account id (``VA-...``), name, active flag and,
when the partner states a headquarters address, a ``MAIN`` location with it.

A listing that cannot be mapped (no vendor, a vendor that is not an object) and a
supplier the Load rejects are quarantined; the other vendors land and the cursor moves.
Later runs fetch quarantined listings again by id (``in(id,(...))``) before reading on.

settings.json: ``config.connector_name``, ``config.connect_endpoint`` (``sandbox:connect``
is replaced with the local sandbox by the CLI), optional ``config.connect_api_key_secret``
(default ``connect_api_key``), ``config.connect_page_size``, ``config.quarantine``
(``false`` = fail on the first bad listing), ``config.connect_whole_records`` (``true``
asks Connect for whole listings; by default the nested objects the mapping does not
read are left out with ``select(-...)``); ``secrets.<that name>`` holds the API key.
Job params: ``since_override``, ``until_override``, ``lookback_days``,
``quarantine_retry``, ``quarantine_discard``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from adapters.connect import ListingsSource, PartnerDirectory, client_from_context, settings_from_context
from adapters.prefetch import Prefetching
from adapters.quarantine import Quarantine
from adapters.records import RecordItem
from adapters.runtime import require_config
from adapters.sinks import LoadSink
from adapters.sync import sync
from lib.objects.supplier import SupplierLoad

STREAM = "listings_vendors"
#: listings read between Load flushes: a flush writes only vendors not written yet this run
#: (at most one row per vendor), so rows per write are bounded by the vendors, not by
#: this; a larger interval means fewer, fuller supplier writes. Checkpoints
#: (``config.run``) flush first, so they are not made rarer by it.
FLUSH_EVERY_LISTINGS = 10_000
#: pages of listings whose vendors are looked up together (one batch held in memory)
PREFETCH_PAGES = 5
_COUNTRY = re.compile(r"^[A-Za-z]{2}$")
#: a listing's nested objects the mapping never reads: asked to be left out of each page
#: (``select(-...)``), they are most of its bytes and of its decoding cost. A Connect that
#: ignores the request sends them anyway and one that refuses it is read whole
#: (``adapters.connect.paging.Selection``), so this is an economy, not an assumption.
UNREAD_LISTING_FIELDS = (
    "contract",
    "marketplace",
    "product",
    "provider",
    "pricelist",
    "alt_pricelist_1",
    "alt_pricelist_2",
    "offer",
)


def split_headquarters(text: str) -> dict[str, str] | None:
    """``"12 Main Street, Berlin, DE"`` -> street/city/country_code; None when empty.

    Connect keeps the headquarters as one free-text line; only a trailing two-letter
    part is taken as a country code, anything else stays in street/city.
    """
    parts = [p.strip() for p in text.split(",") if p.strip()]
    if not parts:
        return None
    address: dict[str, str] = {}
    if len(parts) > 1 and _COUNTRY.match(parts[-1]):
        address["country_code"] = parts.pop().upper()
    address["street"] = parts[0][:255]
    if len(parts) > 1:
        address["city"] = ", ".join(parts[1:])[:120]
    return address


#: keys an address object may use for each supplier address field, most specific first
_ADDRESS_KEYS = {
    "street": ("address_line1", "street", "line1", "address"),
    "city": ("city", "locality"),
    "country_code": ("country", "country_code", "countryCode"),
}


def headquarters_address(value: Any) -> dict[str, str] | None:
    """A partner's headquarters as street/city/country_code, from either form it may take.

    The spec types it as one free-text line; an address object (``address_line1``,
    ``city``, ``country``, as Connect's contact info uses) is accepted too, because no
    reference confirms which the live service sends.
    """
    if isinstance(value, Mapping):
        address: dict[str, str] = {}
        for target, keys in _ADDRESS_KEYS.items():
            found = next((str(value[k]).strip() for k in keys if value.get(k)), "")
            if found:
                address[target] = found
        if "country_code" in address:
            if _COUNTRY.match(address["country_code"]):
                address["country_code"] = address["country_code"].upper()
            else:
                address.pop("country_code")
        if "street" in address:
            address["street"] = address["street"][:255]
        if "city" in address:
            address["city"] = address["city"][:120]
        return address or None
    return split_headquarters(str(value or ""))


def vendor_ids(listings: Iterable[RecordItem]) -> set[str]:
    """The vendor ids a batch of listings names (malformed ones are left to the mapper to report)."""
    ids = set()
    for item in listings:
        vendor = item.as_mapping().get("vendor")
        if type(vendor) is dict or isinstance(vendor, Mapping):  # dict first: no ABC check
            vendor_id = vendor.get("id")
            if type(vendor_id) is str:
                ids.add(vendor_id)
    return ids


class VendorMapper:
    """Maps a listing to its vendor's supplier, once per vendor per run.

    ``seen`` remembers which listing built each vendor's supplier, so mapping that same
    listing again (the Load sink rebuilds a rejected batch's halves) builds it again
    instead of skipping it.
    """

    def __init__(self, partners: PartnerDirectory) -> None:
        self.partners = partners
        self.seen: dict[str, str] = {}  # vendor id -> key of the listing that built it

    def __call__(self, item: RecordItem, load: Any) -> Any:
        vendor = item.as_mapping().get("vendor") or {}
        if type(vendor) is not dict and not isinstance(vendor, Mapping):  # dict first: no ABC check
            raise ValueError(f"listing {item.key!r}: vendor is not an object: {vendor!r:.60}")
        vendor_id = vendor.get("id")
        if not vendor_id:
            raise ValueError(f"listing {item.key!r} has no vendor.id")
        if self.seen.get(vendor_id, item.key) != item.key:
            return None
        partner = self.partners.get(vendor_id) or {}
        supplier = load.new()
        supplier.supplier_number = vendor_id
        supplier.supplier_name = partner.get("name") or vendor.get("name") or vendor_id
        supplier.is_active = partner.get("status", "active") == "active"
        address = headquarters_address(partner.get("headquarters"))
        if address:
            location = supplier.new_location()
            location.location_code = "MAIN"
            location.location_name = "Headquarters"
            location.is_active = True
            entry = location.new_address()
            for name, value in address.items():
                setattr(entry, name, value)
        self.seen[vendor_id] = item.key
        return supplier


def run(context: Any) -> dict[str, Any]:
    connector_name = require_config(context, "connector_name")
    settings = settings_from_context(context)
    client = client_from_context(context, settings)
    partners = PartnerDirectory.for_context(context, client)  # config.retry checked here, before any call
    source = Prefetching(
        ListingsSource.for_context(
            context, client, settings, exclude_fields=() if settings.whole_records else UNREAD_LISTING_FIELDS
        ),
        lambda listings: partners.prefetch(vendor_ids(listings)),
        # five pages of listings per batch: most vendors appear in the first one, so its
        # in(id,...) chunks are full and later batches rarely need a call of their own
        batch_size=PREFETCH_PAGES * settings.page_size,
    )
    mapper = VendorMapper(partners)
    sink = LoadSink.for_context(context, SupplierLoad(context), mapper, name="suppliers")
    quarantine = Quarantine.for_context(context, connector_name=connector_name)
    summary = sync(
        context,
        source,
        sink,
        connector_name=connector_name,
        stream=STREAM,
        quarantine=quarantine,
        flush_every=FLUSH_EVERY_LISTINGS,
    )
    context.logger.info(
        f"{len(mapper.seen)} vendors from Connect listings, {partners.requests_made} partner lookups",
        step="done",
        detail={"vendors": len(mapper.seen), "partner_lookups": partners.requests_made},
    )
    result = summary.as_dict()
    result.update({"connector_name": connector_name, "vendors": len(mapper.seen)})
    return result
