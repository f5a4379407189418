"""A sink into a Nuntiq custom-data table: one row per item, upserted by key.

For sources whose records have no Load (reference data, mappings, small state): the
row key is the item's key (or ``key(item)``), the value its payload (or ``value(item)``).
Rows are buffered and written with one ``PUT`` per 1000 on ``flush()``; a PUT upserts,
so re-delivered items are harmless.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import quote

from adapters.nuntiq.retrier import nuntiq_retrier
from adapters.records import RecordItem
from adapters.retry import Retrier
from adapters.runtime import ApiLike, ContextLike
from adapters.sinks.base import SinkCounts, SinkError

__all__ = ["RowSink"]

MAX_ROWS_PER_PUT = 1000


def _default_value(item: RecordItem) -> Any:
    return dict(item.as_mapping())


def _bind_put(api: ApiLike, path: str, data: dict[str, Any]) -> Callable[[], Any]:
    return lambda: api.put(path, data=data)


class RowSink:
    """Buffers ``{"key", "value"}`` rows for ``table`` and upserts them on ``flush()``."""

    def __init__(
        self,
        api: ApiLike,
        table: str,
        *,
        name: str | None = None,
        key: Callable[[RecordItem], str] | None = None,
        value: Callable[[RecordItem], Any] = _default_value,
        retrier: Retrier,
    ) -> None:
        self.api = api
        self.table = table
        self._name = name or f"custom_data:{table}"
        self.key = key
        self.value = value
        self.retrier = retrier
        self._rows: dict[str, Any] = {}  # last write per key wins, as in the table
        self._added = 0
        self._rejected = 0
        self.written = 0

    @classmethod
    def for_context(
        cls,
        context: ContextLike,
        table: str,
        *,
        name: str | None = None,
        key: Callable[[RecordItem], str] | None = None,
        value: Callable[[RecordItem], Any] = _default_value,
    ) -> RowSink:
        """The usual wiring: rows put through ``context.api``, retried under ``config.retry``.

        A put replaces the rows it names, so sending it again after a transient failure
        cannot duplicate them.
        """
        return cls(context.api, table, name=name, key=key, value=value, retrier=nuntiq_retrier(context))

    @property
    def name(self) -> str:
        return self._name

    @property
    def pending(self) -> int:
        return self._added

    @property
    def counts(self) -> SinkCounts:
        """A put upserts, so a row already there counts as written."""
        return SinkCounts(written=self.written, rejected=self._rejected)

    def add(self, item: RecordItem) -> None:
        row_key = self.key(item) if self.key is not None else item.key
        if not row_key or len(row_key) > 512:
            self._rejected += 1
            raise SinkError(f"{self._name}: record {item.key!r} has no usable row key ({row_key!r})")
        try:
            self._rows[row_key] = self.value(item)
        except Exception as exc:
            self._rejected += 1
            raise SinkError(f"{self._name}: cannot build the row for record {item.key!r}: {exc}") from exc
        self._added += 1

    def flush(self) -> int:
        path = f"/v1/custom-data/{quote(self.table, safe='')}"
        rows = [{"key": k, "value": v} for k, v in self._rows.items()]
        for start in range(0, len(rows), MAX_ROWS_PER_PUT):
            put = _bind_put(self.api, path, {"rows": rows[start : start + MAX_ROWS_PER_PUT]})
            self.retrier.call(put, step=f"put:{self._name}")
        count, self._added = self._added, 0
        self._rows.clear()
        self.written += count
        return count

    def close(self) -> None:
        self._rows.clear()
        self._added = 0
