"""What a Codat pull has delivered, per company and day, at a cost that does not grow with history.

Codat files are selected by *what is not yet delivered*, not only by ``uploaded >= cursor``:
a file can appear in the listing with an ``uploaded`` days behind the cursor (listed
late, an uploader's clock behind, precision lost) and must still be delivered, once.
Asking the delivery ledger about every listed file would cost one request per file the
company ever uploaded, on every run. Instead each company/day has a summary row in the
custom-data table ``adapters_codat_days`` (row key ``namespace/company/YYYY-MM-DD``)
holding short hashes of the delivery keys known settled on that day:

* ``delivered``: the document sink's ledger records them ``done``. A key enters a summary
  only after the ledger says so, at the start of a later run, so a summary never claims
  a file that was not durably written;
* ``excluded``: files older than the first run's lower bound (``lookback_days`` or the
  cursor an existing stream already had), which that run chose not to read.

A run lists the summaries (one paged request, 200 days a page), hashes the listing, and
only files whose hash is in no summary are looked up in the ledger, one request each:
the files new since the previous run, plus those it delivered. Days that gained settled
keys get their row rewritten. So the cost per run is the listing Codat makes us fetch
anyway, the summary pages, and requests proportional to what changed.

A ``baseline`` row marks that the first run happened; before it exists, nothing is
excluded by age except below that first run's lower bound.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeVar
from urllib.parse import quote

from adapters.codat.layout import ListedFile
from adapters.cursor import format_cursor
from adapters.ledger import EntryState, Ledger
from adapters.nuntiq.listing import PageLimit, iter_rows
from adapters.retry import Retrier
from adapters.runtime import ApiLike

T = TypeVar("T")

TABLE = "adapters_codat_days"
BASELINE = "baseline"
_PAGE = 200
_MAX_ROWS_PER_PUT = 500
#: above this many unknown keys, one paged listing of the ledger beats one request per key
_LIST_LEDGER_ABOVE = 200


def key_hash(key: str) -> str:
    """A short, stable stand-in for a delivery key in a day summary (64 bits of sha256)."""
    return hashlib.sha256(key.encode()).hexdigest()[:16]


@dataclass
class DaySummary:
    delivered: set[str] = field(default_factory=set)
    excluded: set[str] = field(default_factory=set)

    def settled(self, hashed: str) -> bool:
        return hashed in self.delivered or hashed in self.excluded

    def to_value(self) -> dict[str, Any]:
        return {"delivered": sorted(self.delivered), "excluded": sorted(self.excluded)}

    @classmethod
    def from_value(cls, value: Any) -> DaySummary:
        if not isinstance(value, Mapping):
            return cls()
        return cls(
            {str(h) for h in value.get("delivered") or []}, {str(h) for h in value.get("excluded") or []}
        )


@dataclass
class Selection:
    """The files a run must deliver, and what the summaries saved."""

    wanted: list[ListedFile]
    settled_by_summary: int = 0
    ledger_lookups: int = 0
    rows_written: int = 0


class DeliveryRecord:
    """Day summaries for one company's pull stream (see the module docstring).

    ``ledger`` is the document sink's delivery ledger (the source of truth for ``done``);
    ``key_of`` turns a listed file into its delivery key; ``retrier`` retries the
    idempotent custom-data calls (a Nuntiq-classified retrier).
    """

    def __init__(
        self,
        api: ApiLike,
        *,
        namespace: str,
        company_id: str,
        ledger: Ledger,
        key_of: Callable[[ListedFile], str],
        retrier: Retrier | None = None,
        table: str = TABLE,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.api = api
        self.prefix = f"{namespace}/{company_id}/"
        self.ledger = ledger
        self.key_of = key_of
        self.retrier = retrier
        self.now = now
        self._path = f"/v1/custom-data/{quote(table, safe='')}"
        self._page = PageLimit(_PAGE)  # a size the server refused is not asked again

    def summaries(self) -> dict[str, DaySummary]:
        return {key[len(self.prefix) :]: DaySummary.from_value(value) for key, value in self._rows()}

    def select(self, listed: Sequence[ListedFile], *, floor: datetime | None) -> Selection:
        """The listed files not yet delivered; records newly settled keys first.

        ``floor`` (the run's lower bound) only matters on the first run: files uploaded
        before it are recorded as excluded instead of delivered.
        """
        rows = self.summaries()
        first_run = BASELINE not in rows
        by_day: dict[str, list[tuple[ListedFile, str, str]]] = defaultdict(list)
        selection = Selection(wanted=[])
        for entry in listed:
            key = self.key_of(entry)
            hashed = key_hash(key)
            if rows.get(entry.archive_date, DaySummary()).settled(hashed):
                selection.settled_by_summary += 1
                continue
            by_day[entry.archive_date].append((entry, key, hashed))
        unknown = [key for entries in by_day.values() for _, key, _ in entries]
        done = self._done(unknown)
        selection.ledger_lookups = len(unknown) if len(unknown) <= _LIST_LEDGER_ABOVE else 0
        changed: dict[str, DaySummary] = {}
        for day, entries in by_day.items():
            summary = rows.get(day) or DaySummary()
            grew = False
            for entry, key, hashed in entries:
                if key in done:
                    summary.delivered.add(hashed)
                    grew = True
                elif first_run and floor is not None and entry.uploaded < floor:
                    summary.excluded.add(hashed)
                    grew = True
                else:
                    selection.wanted.append(entry)
            if grew:
                changed[day] = summary
        selection.wanted.sort(key=lambda f: f.position)  # listing order
        writes = [(day, summary.to_value()) for day, summary in changed.items()]
        if first_run:
            writes.append((BASELINE, {"floor": format_cursor(floor) if floor else None, "at": self._stamp()}))
        self._put(writes)
        selection.rows_written = len(writes)
        return selection

    # -- custom-data rows ---------------------------------------------------------------

    def _done(self, keys: list[str]) -> set[str]:
        if not keys:
            return set()
        if len(keys) > _LIST_LEDGER_ABOVE:
            wanted = set(keys)
            return {e.key for e in self.ledger.entries() if e.state is EntryState.DONE and e.key in wanted}
        done: set[str] = set()
        for key in keys:
            entry = self.ledger.get(key)
            if entry is not None and entry.state is EntryState.DONE:
                done.add(key)
        return done

    def _rows(self) -> Iterator[tuple[str, Any]]:
        rows = iter_rows(
            lambda params: self._call(_bind(self.api.get, self._path, params), step="codat.delivered_read"),
            {"key_prefix": self.prefix},
            limit=self._page,
            describe=f"codat day summaries {self.prefix}",
        )
        for item in rows:
            yield str(item.get("key")), item.get("value")

    def _put(self, writes: list[tuple[str, dict[str, Any]]]) -> None:
        for start in range(0, len(writes), _MAX_ROWS_PER_PUT):
            chunk = writes[start : start + _MAX_ROWS_PER_PUT]
            data = {"rows": [{"key": self.prefix + day, "value": value} for day, value in chunk]}
            self._call(_bind_put(self.api.put, self._path, data), step="codat.delivered_write")

    def _stamp(self) -> str:
        return format_cursor(self.now())

    def _call(self, fn: Callable[[], T], *, step: str) -> T:
        return self.retrier.call(fn, step=step) if self.retrier is not None else fn()


def _bind(get: Callable[..., Any], path: str, params: Mapping[str, Any]) -> Callable[[], Any]:
    return lambda: get(path, params=params)


def _bind_put(put: Callable[..., Any], path: str, data: Mapping[str, Any]) -> Callable[[], Any]:
    return lambda: put(path, data=data)
