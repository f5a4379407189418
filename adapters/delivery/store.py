"""Where delivery state lives: one small interface, and the one module that knows Nuntiq's rows.

Why an interface: the exactly-once protocol (:mod:`adapters.delivery.core`) needs only
four things of its storage: list the rows under a key prefix, upsert several rows in
one call, delete rows, and the server's timestamp of a write. Everything about *how*
Nuntiq offers that (the custom-data path, the ``{"rows": [{"key", "value"}]}`` body,
``key_prefix``/``page``/``limit``, the ``updated_at`` stamps, the 1,000-row and
200-character limits, values stored as JSON or as JSON text) is in
:class:`NuntiqCustomData` and nowhere else, so a deployment whose Nuntiq differs
changes this one module.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar
from urllib.parse import quote

from adapters.nuntiq.listing import PageLimit, iter_rows, row_value
from adapters.nuntiq.shapes import row_stamp, upsert_stamp
from adapters.retry import Retrier
from adapters.runtime import ApiLike

__all__ = ["LedgerStore", "NuntiqCustomData", "ProcessMemory", "StoredRow"]

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class StoredRow:
    """One stored row: its key, its value (``None`` when unreadable), the server's raw stamp."""

    key: str
    value: Mapping[str, Any] | None
    stamp: object


class LedgerStore(Protocol):
    """Key/value rows with server stamps: all the delivery ledger asks of its storage."""

    @property
    def max_key_length(self) -> int:
        """The longest row key the store accepts (longer delivery keys are hashed)."""
        ...

    def rows(self, prefix: str) -> Iterator[StoredRow]:
        """Every row whose key starts with ``prefix`` (paged as the store needs)."""
        ...

    def upsert(self, rows: Sequence[tuple[str, Mapping[str, Any]]]) -> object:
        """Write ``rows`` (key, value); returns the server's stamp of the write (raw)."""
        ...

    def delete(self, keys: Sequence[str]) -> None: ...


class NuntiqCustomData:
    """:class:`LedgerStore` on a Nuntiq custom-data table (``sandbox/nuntiq/API.md``).

    ``retrier`` (Nuntiq-classified) retries every call: each is an idempotent list,
    upsert or delete. ``read_step``/``write_step`` name the calls in retry logs.
    """

    #: Nuntiq's limit on rows per upsert
    MAX_ROWS_PER_PUT = 1000
    #: the largest page Nuntiq lists
    PAGE = 1000

    def __init__(
        self,
        api: ApiLike,
        table: str,
        *,
        retrier: Retrier,
        read_step: str = "ledger_read",
        write_step: str = "ledger_write",
    ) -> None:
        self.api = api
        self.table = table
        self.retrier = retrier
        self.read_step = read_step
        self.write_step = write_step
        self._path = f"/v1/custom-data/{quote(table, safe='')}"
        self._page = PageLimit(self.PAGE)  # a size the server refused is not asked again

    @property
    def max_key_length(self) -> int:
        return 200

    def rows(self, prefix: str) -> Iterator[StoredRow]:
        path, get = self._path, self.api.get

        def page(params: dict[str, Any]) -> Any:
            return self.retrier.call(lambda: get(path, params=params), step=self.read_step)

        for item in iter_rows(
            page, {"key_prefix": prefix}, limit=self._page, describe=f"{self.table} {prefix}"
        ):
            yield StoredRow(str(item.get("key")), row_value(item.get("value")), row_stamp(item))

    def upsert(self, rows: Sequence[tuple[str, Mapping[str, Any]]]) -> object:
        """Write ``rows``; the server's stamp of the write from its answer, or ``None``.

        No reference says what an upsert answers: the stamp is taken in any of its
        spellings (:func:`adapters.nuntiq.shapes.upsert_stamp`). A caller that needs the
        time of an answer without one reads the row back (:func:`stamp_of_write`).
        """
        stamp: object = None
        for start in range(0, len(rows), self.MAX_ROWS_PER_PUT):
            chunk = rows[start : start + self.MAX_ROWS_PER_PUT]
            data = {"rows": [{"key": key, "value": dict(value)} for key, value in chunk]}
            body = self._call(self.api.put, data, step=self.write_step)
            stamp = upsert_stamp(body)
        return stamp

    def delete(self, keys: Sequence[str]) -> None:
        for start in range(0, len(keys), self.MAX_ROWS_PER_PUT):
            self._call(
                self.api.delete,
                {"keys": list(keys[start : start + self.MAX_ROWS_PER_PUT])},
                step=self.write_step,
            )

    def _call(self, method: Callable[..., T], data: Mapping[str, Any], *, step: str) -> T:
        path = self._path
        return self.retrier.call(lambda: method(path, data=data), step=step)


def stamp_of_write(store: LedgerStore, rows: Sequence[tuple[str, Mapping[str, Any]]]) -> object:
    """Upsert ``rows`` and return the server's stamp, reading the last row back if the answer had none.

    The ledger needs server time for every mark (owner-aware reconcile windows); a store
    whose upsert answers no time costs one read per write here, and only here.
    """
    stamp = store.upsert(rows)
    if stamp is None and rows:
        last = rows[-1][0]
        stamp = next((row.stamp for row in store.rows(last) if row.key == last), None)
    return stamp


class ProcessMemory:
    """:class:`LedgerStore` in this process's memory: exactly-once within one run, not across runs.

    For a target used without a server-side ledger (e.g. a Codat uploader built without
    one): a retried request is still checked for an arrived copy first, but a rerun
    starts from nothing. It has no server stamps, so it cannot serve a lease-guarded run.
    """

    def __init__(self) -> None:
        self._rows: dict[str, Mapping[str, Any]] = {}

    @property
    def max_key_length(self) -> int:
        return 200

    def rows(self, prefix: str) -> Iterator[StoredRow]:
        for key in sorted(k for k in self._rows if k.startswith(prefix)):
            yield StoredRow(key, self._rows[key], None)

    def upsert(self, rows: Sequence[tuple[str, Mapping[str, Any]]]) -> object:
        self._rows.update({key: dict(value) for key, value in rows})
        return None

    def delete(self, keys: Sequence[str]) -> None:
        for key in keys:
            self._rows.pop(key, None)
