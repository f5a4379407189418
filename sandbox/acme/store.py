"""Acme's suppliers and how a listing is cut into pages, in every variant the recipe leaves open.

The recipe says the API pages with ``page``/``per_page`` and answers ``{data, next_page}``,
filters with ``updated_after`` and throws 502/503 and 429. It does not say whether the
listing is ordered or whether ``updated_after`` is inclusive, so both are options:

* ``ordered=True``: by ``updated_at`` then ``number`` (an update moves a record to the end);
  ``ordered=False``: in a fixed order unrelated to time (a hash of the number), so an
  update leaves a record where it was;
* ``inclusive=True``: ``updated_at >= updated_after``; ``False``: ``>``.

The other paging styles (offset, token, next URL, Link header, keyset) are variants of the
same data, so each paginator of the REST kit is proven against a server that pages that way.
"""

from __future__ import annotations

import hashlib
import random
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import BaseModel, Field

PAGING_STYLES = ("page", "offset", "token", "next_url", "link", "keyset")
#: when the seed's history starts; every seeded update lies between this and SEED_END
SEED_START = datetime(2026, 1, 5, 8, 0, tzinfo=UTC)
SEED_END = datetime(2026, 6, 30, 18, 0, tzinfo=UTC)
_CITIES = [("Berlin", "DE"), ("Lyon", "FR"), ("Dublin", "IE"), ("Utrecht", "NL"), ("Graz", "AT")]


def stamp(moment: datetime) -> str:
    """Acme's timestamp form: UTC with milliseconds and ``Z``."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def parse_stamp(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


def moment_of(record: dict[str, Any]) -> datetime:
    """A record's update time; an unreadable one sorts first and passes every filter, so a
    client meets the bad record instead of the server failing the whole listing."""
    try:
        return parse_stamp(str(record.get("updated_at")))
    except ValueError:
        return datetime.min.replace(tzinfo=UTC)


def generate(count: int, seed: int) -> dict[str, dict[str, Any]]:
    """``count`` suppliers; about a fifth share their update time with another (bulk edits)."""
    rng = random.Random(seed)
    span = (SEED_END - SEED_START).total_seconds()
    suppliers: dict[str, dict[str, Any]] = {}
    previous = SEED_START
    for index in range(1, count + 1):
        number = f"ACME-{index:05d}"
        moment = previous if rng.random() < 0.2 else SEED_START + timedelta(seconds=rng.random() * span)
        previous = moment
        city, country = _CITIES[index % len(_CITIES)]
        suppliers[number] = {
            "number": number,
            "name": f"Supplier {index} GmbH",
            "active": rng.random() > 0.1,
            "vat_number": f"{country}{rng.randrange(10**8, 10**9)}",
            "updated_at": stamp(moment.replace(microsecond=(moment.microsecond // 1000) * 1000)),
            "address": {"street": f"{index} Market Street", "city": city, "country": country},
        }
    return suppliers


class Quirks(BaseModel):
    """Lies and accidents to test page loops against (set through ``PUT /_sandbox/acme/quirks``)."""

    total_offset: int = Field(0, description="added to the reported total (offset style)")
    empty_pages: list[int] = Field(default_factory=list, description="page numbers answered empty")
    moves: dict[int, list[int]] = Field(
        default_factory=dict,
        description="after the n-th listing request, update the records at these positions (-1: last)",
    )
    wrong_next_page: bool = Field(False, description="next_page null on every page (page style)")


@dataclass
class ListingQuery:
    updated_after: datetime | None = None
    after_number: str | None = None
    start: int = 0
    size: int = 50


@dataclass
class AcmeStore:
    """All suppliers, behind one lock (requests may be served from several threads)."""

    ordered: bool = True
    inclusive: bool = True
    count: int = 250
    seed: int = 1
    quirks: Quirks = field(default_factory=Quirks)
    lock: threading.Lock = field(default_factory=threading.Lock)
    list_requests: int = 0
    moves: int = 0

    def __post_init__(self) -> None:
        self.suppliers = generate(self.count, self.seed)

    def reseed(self, count: int, seed: int) -> None:
        with self.lock:
            self.count, self.seed = count, seed
            self.suppliers = generate(count, seed)
            self.list_requests = self.moves = 0
            self.quirks = Quirks()

    def _sort_key(self, record: dict[str, Any]) -> tuple[Any, ...]:
        if self.ordered:
            return (moment_of(record), record["number"])
        return (hashlib.sha256(record["number"].encode()).hexdigest(),)

    def listing(self, updated_after: datetime | None) -> list[dict[str, Any]]:
        rows = list(self.suppliers.values())
        if updated_after is not None:
            floor = datetime.min.replace(tzinfo=UTC)
            if self.inclusive:
                rows = [r for r in rows if moment_of(r) >= updated_after or moment_of(r) == floor]
            else:
                rows = [r for r in rows if moment_of(r) > updated_after or moment_of(r) == floor]
        return sorted(rows, key=self._sort_key)

    def keyset(self, since: datetime | None, after: str | None, size: int) -> list[dict[str, Any]]:
        """Ordered by (updated_at, number): after (since, after) when ``after`` is given, else from since."""
        rows = sorted(self.suppliers.values(), key=lambda r: (moment_of(r), r["number"]))
        if since is not None and after is not None:
            rows = [r for r in rows if (moment_of(r), r["number"]) > (since, after)]
        elif since is not None:
            keep = (lambda t: t >= since) if self.inclusive else (lambda t: t > since)
            rows = [r for r in rows if keep(moment_of(r))]
        return rows[:size]

    def touch(
        self, numbers: list[str], *, rename: str = "", now: datetime | None = None
    ) -> list[dict[str, Any]]:
        moment = now or datetime.now(UTC)
        touched = []
        for number in numbers:
            record = self.suppliers[number]
            record["updated_at"] = stamp(moment)
            if rename:
                record["name"] = f"{record['name']}{rename}"
            touched.append(dict(record))
        self.moves += len(touched)
        return touched

    def after_list_request(self, listing: list[dict[str, Any]]) -> None:
        """Count the request; update the records a quirk names for this request (their time: now)."""
        self.list_requests += 1
        positions = self.quirks.moves.get(self.list_requests, [])
        numbers = [listing[p]["number"] for p in positions if -len(listing) <= p < len(listing)]
        self.touch(numbers, rename=" (moved)")
