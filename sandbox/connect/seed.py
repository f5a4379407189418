"""Deterministic Connect data: partners, listings, requests, assets, billing batches, files.

Shapes follow the Connect OpenAPI schemas and the captured payloads (nested ``events``,
``+00:00`` timestamps with and without microseconds, ``VA-``/``PA-``/``LST-`` ids).
The same ``seed`` and counts always give the same data, and timestamps are spread
so that some records deliberately share a second: paging must cope with ties.
"""

from __future__ import annotations

import hashlib
import json
import random
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "connect"

DEFAULT_COUNTS: dict[str, int] = {
    "vendors": 8,
    "providers": 2,
    "listings": 60,
    "requests": 40,
    "subscription_assets": 40,
    "subscription_requests": 40,
    "tier_accounts": 20,
    "billing_batches": 6,
    "media_files": 5,
}

EPOCH = datetime(2024, 1, 1, tzinfo=UTC)

_COUNTRIES = ["US", "ES", "DE", "GB", "FR", "NL", "IT"]
_CITIES = ["Austin", "Barcelona", "Berlin", "London", "Lyon", "Utrecht", "Milan"]
_WORDS = ["Cloud", "Data", "Secure", "Office", "Backup", "Mail", "Stream", "Desk", "Sync", "Vault"]


def ts(value: datetime, *, micro: bool = False) -> str:
    """Connect's timestamp format: ``2024-01-01T00:00:00+00:00`` (optionally with microseconds)."""
    value = value.astimezone(UTC)
    if micro:
        return value.strftime("%Y-%m-%dT%H:%M:%S.%f+00:00")
    return value.replace(microsecond=0).strftime("%Y-%m-%dT%H:%M:%S+00:00")


@dataclass
class StoredFile:
    """A media file: its ``media.File`` payload and its bytes."""

    record: dict[str, Any]
    content: bytes

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.content).hexdigest()


@dataclass
class SeedData:
    partners: dict[str, dict[str, Any]] = field(default_factory=dict)
    collections: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    batch_files: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    media: dict[tuple[str, str], list[StoredFile]] = field(default_factory=dict)


class _Ids:
    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.used: set[str] = set()

    def make(self, prefix: str, *groups: int) -> str:
        while True:
            parts = [str(self.rng.randrange(10**g)).zfill(g) for g in groups]
            value = "-".join([prefix, *parts])
            if value not in self.used:
                self.used.add(value)
                return value


class _Clock:
    """Increasing timestamps from EPOCH; about one in five repeats the previous second."""

    def __init__(self, rng: random.Random, start: datetime = EPOCH) -> None:
        self.rng = rng
        self.now = start

    def tick(self) -> datetime:
        if self.rng.random() >= 0.2:
            self.now += timedelta(seconds=self.rng.randint(1, 600))
        return self.now


def _partner(ids: _Ids, rng: random.Random, kind: str, n: int) -> dict[str, Any]:
    prefix = "VA" if kind == "vendor" else "PA"
    pid = ids.make(prefix, 3, 3)
    i = rng.randrange(len(_COUNTRIES))
    known_hq = rng.random() < 0.75
    return {
        "id": pid,
        "name": f"{rng.choice(_WORDS)} {rng.choice(_WORDS)} {kind.title()} {n}",
        "status": "active" if rng.random() < 0.85 else "inactive",
        "icon": f"/media/{pid}/icon.png",
        "type": "vendor" if kind == "vendor" else "distributor",
        "role": kind,
        "description": f"{kind.title()} account {n}",
        "overview": "",
        "headquarters": f"{rng.randint(1, 300)} Main Street, {_CITIES[i]}, {_COUNTRIES[i]}"
        if known_hq
        else "",
        "countries": [_COUNTRIES[i]],
        "languages": {"en": True},
        "websites": {"main": f"https://{pid.lower()}.example.com"},
        "stats": {
            "products": rng.randint(0, 20),
            "listings": 0,
            "contracts": {"distribution": 0, "program": 0, "service": 0, "syndication": 0},
        },
        "contacts": [],
        "industries": [],
        "public": {},
    }


def _ref(partner: dict[str, Any]) -> dict[str, Any]:
    return {"id": partner["id"], "name": partner["name"], "icon": partner["icon"]}


class Generator:
    """Builds records one at a time so the service can also add records later."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.ids = _Ids(self.rng)
        self.clock = _Clock(self.rng)
        self.vendors: list[dict[str, Any]] = []
        self.providers: list[dict[str, Any]] = []
        self.marketplaces = [
            {"id": f"MP-{10000 + i}", "name": f"Marketplace {c}", "icon": ""}
            for i, c in enumerate(_COUNTRIES)
        ]
        self.hub = {"id": "HB-0000-0001", "name": "Sandbox Hub"}
        self.products: dict[str, dict[str, Any]] = {}  # vendor id -> its product

    def partner(self, kind: str) -> dict[str, Any]:
        pool = self.vendors if kind == "vendor" else self.providers
        partner = _partner(self.ids, self.rng, kind, len(pool) + 1)
        pool.append(partner)
        if kind == "vendor":
            self.products[partner["id"]] = {
                "id": self.ids.make("PRD", 3, 3, 3),
                "name": f"{self.rng.choice(_WORDS)} Suite",
                "icon": "",
                "status": "published",
                "owner": _ref(partner),
            }
        return partner

    def _product_of(self, vendor: dict[str, Any]) -> dict[str, Any]:
        product = self.products[vendor["id"]]
        return {k: product[k] for k in ("id", "name", "icon", "status")}

    def _connection(self, vendor: dict[str, Any], provider: dict[str, Any]) -> dict[str, Any]:
        return {
            "id": self.ids.make("CT", 4, 4),
            "hub": dict(self.hub),
            "provider": {"id": provider["id"], "name": provider["name"]},
            "vendor": {"id": vendor["id"], "name": vendor["name"]},
            "type": "production",
        }

    def listing(self, at: datetime | None = None) -> dict[str, Any]:
        vendor = self.rng.choice(self.vendors)
        provider = self.rng.choice(self.providers)
        market = self.rng.choice(self.marketplaces)
        created = at or self.clock.tick()
        updated = created if at else created + timedelta(seconds=self.rng.choice([0, 0, 30, 3600]))
        return {
            "id": self.ids.make("LST", 3, 3, 3),
            "status": self.rng.choice(["listed", "listed", "listed", "unlisted"]),
            "contract": {
                "id": self.ids.make("CRD", 5, 5, 5),
                "name": f"Distribution contract {market['name']}",
                "marketplace": dict(market),
            },
            "marketplace": dict(market),
            "product": self._product_of(vendor),
            "created": ts(created),
            "updated": ts(updated),
            "vendor": _ref(vendor),
            "provider": _ref(provider),
            # required by the spec's dp.Listing; the sandbox has no offers or price lists
            "offer": {"id": None},
            "pricelist": {"id": "PL-000-000-000", "name": "Default", "status": "active"},
            "alt_pricelist_1": {"id": "PL-000-000-001", "name": "Alternative 1", "status": "active"},
            "alt_pricelist_2": {"id": "PL-000-000-002", "name": "Alternative 2", "status": "active"},
        }

    def _tiers(self) -> dict[str, Any]:
        return {
            "customer": {"id": self.ids.make("TA", 4, 4, 4), "name": f"Customer {self.rng.randint(1, 999)}"},
            "tier1": {"id": self.ids.make("TA", 4, 4, 4), "name": f"Reseller {self.rng.randint(1, 99)}"},
        }

    def request(self, at: datetime | None = None) -> dict[str, Any]:
        vendor = self.rng.choice(self.vendors)
        provider = self.rng.choice(self.providers)
        created = at or self.clock.tick()
        asset_id = self.ids.make("AS", 4, 4, 4)
        return {
            "id": f"PR-{asset_id[3:]}-{self.rng.randint(1, 999):03d}",
            "type": self.rng.choice(["purchase", "change", "suspend", "resume", "cancel"]),
            "status": self.rng.choice(["pending", "approved", "failed", "inquiring"]),
            "created": ts(created, micro=True),
            "updated": ts(
                created if at else created + timedelta(seconds=self.rng.randint(0, 900)), micro=True
            ),
            "activation_key": "Welcome! " * 20,
            "asset": {
                "id": asset_id,
                "status": "processing",
                "external_id": str(self.rng.randint(100000, 999999)),
                "product": self._product_of(vendor),
                "connection": self._connection(vendor, provider),
                "marketplace": dict(self.rng.choice(self.marketplaces)),
                "tiers": self._tiers(),
                "items": [{"id": "SKU_A", "mpn": "MPN-A", "quantity": str(self.rng.randint(1, 50))}],
                "params": [],
            },
            "marketplace": dict(self.rng.choice(self.marketplaces)),
        }

    def asset(self, at: datetime | None = None) -> dict[str, Any]:
        vendor = self.rng.choice(self.vendors)
        provider = self.rng.choice(self.providers)
        created = at or self.clock.tick()
        updated = created if at else created + timedelta(seconds=self.rng.randint(0, 7200))
        return {
            "id": self.ids.make("AS", 4, 4, 4),
            "status": self.rng.choice(["active", "active", "suspended", "terminated"]),
            "events": {"created": {"at": ts(created)}, "updated": {"at": ts(updated)}},
            "external_id": str(self.rng.randint(100000, 999999)),
            "external_uid": f"{self.rng.getrandbits(128):032x}",
            "product": self._product_of(vendor),
            "connection": self._connection(vendor, provider),
            "marketplace": dict(self.rng.choice(self.marketplaces)),
            "tiers": self._tiers(),
            "billing": {
                "next_date": ts(created + timedelta(days=30), micro=True),
                "period": {"uom": "monthly"},
            },
            "items": [
                {
                    "id": "SKU_A",
                    "global_id": "SKU_A",
                    "display_name": "Seat",
                    "item_type": "Reservation",
                    "period": "monthly",
                    "mpn": "MPN-A",
                    "quantity": f"{self.rng.randint(1, 80)}.0",
                }
            ],
            "template": {"id": "TL-000-000-000", "name": "Activation", "message": ""},
        }

    def subscription_request(self, at: datetime | None = None) -> dict[str, Any]:
        asset = self.asset(at)
        created = at or self.clock.tick()
        updated = created if at else created + timedelta(seconds=self.rng.randint(0, 600))
        start = created - timedelta(days=30)
        return {
            "id": f"BRV-{asset['id'][3:]}-{self.rng.randint(1, 9999):04d}",
            "type": self.rng.choice(["vendor", "provider"]),
            "events": {
                "created": {"at": ts(created, micro=True)},
                "updated": {"at": ts(updated, micro=True)},
            },
            "asset": asset,
            "items": asset["items"],
            "attributes": {"vendor": {"external_id": str(self.rng.randint(1, 99999))}},
            "period": {
                "from": ts(start, micro=True),
                "to": ts(created, micro=True),
                "delta": "1.0",
                "uom": "monthly",
            },
        }

    def tier_account(self, at: datetime | None = None) -> dict[str, Any]:
        created = at or self.clock.tick()
        i = self.rng.randrange(len(_COUNTRIES))
        return {
            "id": self.ids.make("TA", 4, 4, 4),
            "environment": "production",
            "name": f"{self.rng.choice(_WORDS)} Customer {self.rng.randint(1, 9999)}",
            "tax_id": f"TX{self.rng.randint(10000, 99999)}",
            "external_id": str(self.rng.randint(1000000, 9999999)),
            "external_uid": f"{self.rng.getrandbits(128):032x}",
            "events": {"created": {"at": ts(created)}, "updated": {"at": ts(created)}},
            "scopes": ["customer"],
            "db": "EU",
            "marketplace": dict(self.rng.choice(self.marketplaces)),
            "hub": dict(self.hub),
            "version": 1,
            "contact_info": {
                "address_line1": f"{self.rng.randint(1, 500)} Market Street",
                "address_line2": "",
                "city": _CITIES[i],
                "state": "",
                "postal_code": f"{self.rng.randint(10000, 99999)}",
                "country": _COUNTRIES[i].lower(),
                "contact": {
                    "first_name": "Sam",
                    "last_name": "Doe",
                    "email": "sam@example.com",
                    "phone_number": {"country_code": "+1", "area_code": "", "phone_number": "5550100"},
                },
            },
        }

    def billing_batch(self, at: datetime | None = None) -> tuple[dict[str, Any], list[StoredFile]]:
        vendor = self.rng.choice(self.vendors)
        created = at or self.clock.tick()
        batch_id = self.ids.make("BAT", 4, 4, 4)
        stream_id = self.ids.make("STR", 4, 4, 4)
        batch = {
            "id": batch_id,
            "name": f"Billing {created:%Y-%m}",
            "external_id": "",
            "status": self.rng.choice(["published", "processing", "draft"]),
            "description": "",
            "stream": {
                "id": stream_id,
                "name": "Monthly billing",
                "owner": {"id": vendor["id"], "name": vendor["name"]},
                "context": {
                    "account": {"id": vendor["id"], "name": vendor["name"]},
                    "product": {"id": "PRD-000-000-000", "name": "Billing product"},
                    "marketplace": {"id": "MP-00000", "name": "Default marketplace"},
                    "listing": {"id": "LST-000-000-000"},
                },
            },
            "source": {"name": "Monthly billing"},
            "task": {"name": "publish", "status": "success", "error": {}},
            "test": False,
            "stats": {"files": 0},
            "events": {
                "created": {"at": ts(created, micro=True)},
                "updated": {"at": ts(created, micro=True)},
            },
            "context": {"period": {"start": ts(created - timedelta(days=30)), "end": ts(created)}},
        }
        files: list[StoredFile] = []
        for position in range(1, self.rng.randint(1, 3) + 1):
            file_id = self.ids.make("MFL", 4, 4, 4)
            name = f"{batch_id}-{'input' if position == 1 else 'output'}-{position}.csv"
            content = self._csv(batch_id, file_id, rows=self.rng.randint(5, 60))
            files.append(
                StoredFile(
                    self._media_record(
                        "streams_batches", batch_id, file_id, name, "text/csv", content, vendor, created
                    ),
                    content,
                )
            )
        batch["stats"] = {"files": len(files)}
        return batch, files

    def media_file(self, folder_type: str, folder_name: str, at: datetime | None = None) -> StoredFile:
        vendor = self.rng.choice(self.vendors)
        created = at or self.clock.tick()
        file_id = self.ids.make("MFL", 4, 4, 4)
        name = f"attachment_{file_id[4:]}.csv"
        content = self._csv(folder_name, file_id, rows=self.rng.randint(5, 40))
        return StoredFile(
            self._media_record(folder_type, folder_name, file_id, name, "text/csv", content, vendor, created),
            content,
        )

    def _csv(self, owner: str, file_id: str, rows: int) -> bytes:
        lines = ["owner,file,line,amount"]
        lines += [f"{owner},{file_id},{n},{self.rng.randint(1, 99999) / 100:.2f}" for n in range(rows)]
        return ("\n".join(lines) + "\n").encode()

    @staticmethod
    def _media_record(
        folder_type: str,
        folder_name: str,
        file_id: str,
        name: str,
        mime: str,
        content: bytes,
        owner: dict[str, Any],
        created: datetime,
    ) -> dict[str, Any]:
        return {
            "id": file_id,
            "file": f"/public/v1/media/folders/{folder_type}/{folder_name}/files/{file_id}/{name}",
            "size": len(content),
            "folder": {"name": folder_name, "type": folder_type},
            "owner": {"id": owner["id"], "name": owner["name"]},
            "name": name,
            "mime_type": mime,
            "events": {
                "created": {"at": ts(created), "by": {"id": "UR-000-000-001", "name": "Sandbox"}},
                "confirmed": {"at": ts(created), "by": {"id": "UR-000-000-001", "name": "Sandbox"}},
            },
            "access": {owner["id"]: {"view": True, "delete": True}},
        }


MEDIA_FOLDER = ("streams_attachments", "STR-0000-0000-0001")


def generate(seed: int = 1, counts: dict[str, int] | None = None) -> tuple[SeedData, Generator]:
    """Build a data set; returns the generator too so the service can add records later."""
    wanted = dict(DEFAULT_COUNTS)
    wanted.update(counts or {})
    if "listings" in (counts or {}) and "vendors" not in (counts or {}):
        wanted["vendors"] = max(DEFAULT_COUNTS["vendors"], wanted["listings"] // 50)
    gen = Generator(seed)
    data = SeedData()
    for _ in range(max(1, wanted["vendors"])):
        gen.partner("vendor")
    for _ in range(max(1, wanted["providers"])):
        gen.partner("provider")
    for partner in gen.vendors + gen.providers:
        data.partners[partner["id"]] = partner
    data.collections["listings"] = [gen.listing() for _ in range(wanted["listings"])]
    data.collections["requests"] = [gen.request() for _ in range(wanted["requests"])]
    data.collections["subscription_assets"] = [gen.asset() for _ in range(wanted["subscription_assets"])]
    data.collections["subscription_requests"] = [
        gen.subscription_request() for _ in range(wanted["subscription_requests"])
    ]
    data.collections["tier_accounts"] = [gen.tier_account() for _ in range(wanted["tier_accounts"])]
    batches: list[dict[str, Any]] = []
    for _ in range(wanted["billing_batches"]):
        batch, files = gen.billing_batch()
        batches.append(batch)
        data.media[("streams_batches", batch["id"])] = files
        data.batch_files[batch["id"]] = [
            {
                "id": f.record["id"],
                "name": f.record["name"],
                "type": "input" if i == 0 else "output",
                "position": i + 1,
            }
            for i, f in enumerate(files)
        ]
    data.collections["billing_batches"] = batches
    data.media[MEDIA_FOLDER] = [gen.media_file(*MEDIA_FOLDER) for _ in range(wanted["media_files"])]
    return data, gen


def load_capabilities() -> dict[str, Any]:
    """Per-endpoint filters, lookups and orderable fields (extracted from the Connect spec)."""
    data: dict[str, Any] = json.loads((FIXTURES / "cursor_fields.json").read_text())
    return dict(data["endpoints"])
