"""An in-memory stand-in for the Nuntiq custom-data tables a sync run reads and writes.

Every run takes its stream's lease and may keep ledger or quarantine rows, all in
Nuntiq custom-data tables, so a unit test of a connector needs somewhere for them. This
keeps them in dicts, shaped like the API the package assumes (``{items, count, page}``
lists ordered by key, a server ``updated_at`` stamp on every write), with a clock that
moves forward one millisecond per write. Any other call fails naming itself, instead of
answering like a mock that accepts anything.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from adapters.runtime import FileTuple

__all__ = ["InMemoryNuntiq"]

_PREFIX = "/v1/custom-data/"


class InMemoryNuntiq:
    """Implements the custom-data part of :class:`adapters.runtime.ApiLike` in memory."""

    def __init__(self, now: datetime | None = None) -> None:
        self.tables: dict[str, dict[str, tuple[Any, str]]] = {}
        self._now = now or datetime.now(UTC)

    def _stamp(self) -> str:
        self._now += timedelta(milliseconds=1)
        return self._now.strftime("%Y-%m-%dT%H:%M:%S.%fZ")

    def _table(self, path: str) -> dict[str, tuple[Any, str]]:
        if not path.startswith(_PREFIX) or "/" in path[len(_PREFIX) :]:
            raise NotImplementedError(f"InMemoryNuntiq serves custom-data tables only, not {path}")
        return self.tables.setdefault(path[len(_PREFIX) :], {})

    def get(
        self,
        path: str,
        params: Mapping[str, Any] | None = None,
        extra_headers: Mapping[str, str] | None = None,
    ) -> Any:
        query = dict(params or {})
        page, limit = int(query.get("page", 1)), int(query.get("limit", 100))
        prefix = str(query.get("key_prefix", ""))
        rows = [
            {"key": key, "value": value, "updated_at": stamp}
            for key, (value, stamp) in sorted(self._table(path).items())
            if key.startswith(prefix)
        ]
        return {"items": rows[(page - 1) * limit : page * limit], "count": len(rows), "page": page}

    def put(self, path: str, data: Any = None, extra_headers: Mapping[str, str] | None = None) -> Any:
        table, stamp = self._table(path), self._stamp()
        for row in data["rows"]:
            table[str(row["key"])] = (row["value"], stamp)
        return {"written": len(data["rows"]), "updated_at": stamp}

    def delete(self, path: str, data: Any = None, extra_headers: Mapping[str, str] | None = None) -> Any:
        table = self._table(path)
        deleted = sum(1 for key in data["keys"] if table.pop(str(key), None) is not None)
        return {"deleted": deleted}

    def post(self, path: str, data: Any = None, extra_headers: Mapping[str, str] | None = None) -> Any:
        raise NotImplementedError(f"InMemoryNuntiq does not serve POST {path}: pass api=... for it")

    def download_attachment(self, attachment_token: str) -> bytes:
        raise NotImplementedError("InMemoryNuntiq holds no attachments: pass api=... for them")

    def upload_source_documents(self, files: list[FileTuple], **kwargs: Any) -> Any:
        raise NotImplementedError("InMemoryNuntiq stores no source documents: pass api=... for them")
