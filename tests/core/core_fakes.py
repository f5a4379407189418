"""Small in-memory stand-ins for the framework surface (context, api, delta_run) and for sources.

They implement just what adapters use, so the core can be tested without the local
runtime or the sandbox service.
"""

from __future__ import annotations

import hashlib
import io
import itertools
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

from adapters.protocol import Ordering
from adapters.records import DocumentItem, RecordItem
from adapters.sinks.base import SinkCounts
from adapters.testing import InMemoryRun
from lib.jobcontext import RecordingLogger

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


class FakeApiError(Exception):
    def __init__(self, status_code: int, response_body: str = "") -> None:
        super().__init__(f"API error {status_code}")
        self.status_code = status_code
        self.response_body = response_body


class FakeApi:
    """Custom-data tables and source documents, in memory, shaped like the Nuntiq API."""

    def __init__(self) -> None:
        self.tables: dict[str, dict[str, Any]] = {}
        self.stamps: dict[tuple[str, str], str] = {}  # (table, key) -> the server's updated_at
        self.documents: list[dict[str, Any]] = []
        self.blobs: dict[str, bytes] = {}
        self.uploads = 0
        self.fail_upload_after_create: list[int] = []  # statuses raised AFTER creating the document
        self.fail_upload_before_create: list[int] = []
        self._ids = itertools.count(1)
        self.clock = T0

    def tick(self) -> datetime:
        self.clock += timedelta(seconds=1)
        return self.clock

    def get(self, path: str, params: Mapping[str, Any] | None = None, extra_headers: Any = None) -> Any:
        params = dict(params or {})
        page, limit = int(params.get("page", 1)), int(params.get("limit", 100))
        if path.startswith("/v1/custom-data/"):
            name = path.rsplit("/", 1)[1]
            table = self.tables.get(name, {})
            prefix = params.get("key_prefix", "")
            rows = [
                {"key": k, "value": v, "updated_at": self.stamps.get((name, k))}
                for k, v in sorted(table.items())
                if k.startswith(prefix)
            ]
        elif path == "/v1/source-documents":
            after = params.get("created_after")
            rows = [d for d in self.documents if after is None or d["created_at"] > after]
        else:
            raise FakeApiError(404, '{"message": "no such path"}')
        chunk = rows[(page - 1) * limit : page * limit]
        return {"items": chunk, "count": len(rows), "page": page}

    def put(self, path: str, data: Any = None, extra_headers: Any = None) -> Any:
        name = path.rsplit("/", 1)[1]
        table = self.tables.setdefault(name, {})
        stamp = self.tick().strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        for row in data["rows"]:
            table[row["key"]] = row["value"]
            self.stamps[(name, row["key"])] = stamp
        return {"written": len(data["rows"]), "updated_at": stamp}

    def post(self, path: str, data: Any = None, extra_headers: Any = None) -> Any:
        raise NotImplementedError(path)

    def delete(self, path: str, data: Any = None, extra_headers: Any = None) -> Any:
        table = self.tables.setdefault(path.rsplit("/", 1)[1], {})
        for key in data["keys"]:
            table.pop(key, None)
        return {"deleted": len(data["keys"])}

    def download_attachment(self, attachment_token: str) -> bytes:
        return self.blobs[attachment_token]

    def upload_source_documents(self, files: list[Any], **kwargs: Any) -> Any:
        self.uploads += 1
        if self.fail_upload_before_create:
            raise FakeApiError(self.fail_upload_before_create.pop(0), "{}")
        entries = []
        for name, content, media_type in files:
            data = content if isinstance(content, bytes) else content.read()
            token = f"att-{next(self._ids)}"
            self.blobs[token] = data
            entries.append(
                {
                    "file_name": name,
                    "size": len(data),
                    "sha256": hashlib.sha256(data).hexdigest(),
                    "media_type": media_type,
                    "attachment_token": token,
                }
            )
        created = self.tick().strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        doc = {
            "id": f"doc-{next(self._ids)}",
            "created_at": created,
            "files": entries,
            "fields": kwargs,
            "properties": dict(kwargs),  # the API keeps form fields as the document's properties
        }
        self.documents.append(doc)
        if self.fail_upload_after_create:
            raise FakeApiError(self.fail_upload_after_create.pop(0), "{}")
        return doc


class FakeContext:
    def __init__(
        self,
        params: Mapping[str, Any] | None = None,
        api: FakeApi | None = None,
        config: Mapping[str, Any] | None = None,
    ) -> None:
        self.params = dict(params or {})
        self.config = dict(config or {})
        self.api = api or FakeApi()
        self.logger = RecordingLogger()

    def get_config(self, key: str, default: Any = None) -> Any:
        return self.config.get(key, default)

    def get_secret(self, key: str) -> Any:
        return None

    def get_param(self, key: str, default: Any = None) -> Any:
        return self.params.get(key, default)


#: the delta-run handle is the test kit's; only the single-cursor FakeDelta below is specific
FakeRun = InMemoryRun


class FakeDelta:
    """delta_run over one in-memory cursor: complete moves it, failure leaves it."""

    def __init__(self, cursor: str | None = None) -> None:
        self.cursor = cursor
        self.runs: list[tuple[str, FakeRun]] = []
        self.calls: list[tuple[str, str]] = []

    @contextmanager
    def __call__(
        self, context: Any, connector_name: str, stream: str, cursor_type: str = ""
    ) -> Iterator[FakeRun]:
        self.calls.append((connector_name, stream))
        run = FakeRun(self.cursor)
        try:
            yield run
        except BaseException:
            self.runs.append(("failed", run))
            raise
        self.runs.append(("completed", run))
        if run.new_cursor is not None:
            self.cursor = run.new_cursor


class SourceBroke(Exception):
    pass


class ListSource:
    """A source over a list of (key, cursor) records."""

    def __init__(
        self,
        records: list[tuple[str, datetime | None]],
        *,
        ordering: Ordering = Ordering.CURSOR_ORDERED,
        name: str = "things",
        fail_after: int | None = None,
        lookback: timedelta | None = None,
    ) -> None:
        self.records = records
        self._ordering = ordering
        self._name = name
        self.fail_after = fail_after
        self.since_seen: list[datetime | None] = []
        self.closed = False
        self.lookback = lookback if lookback is not None else timedelta(0)

    @property
    def name(self) -> str:
        return self._name

    @property
    def ordering(self) -> Ordering:
        return self._ordering

    def close(self) -> None:
        """Holds nothing (``closed`` records that a fetch's iterator was closed)."""

    def selected(self, cursor: datetime | None) -> list[tuple[str, datetime | None]]:
        if self._ordering is Ordering.FULL_SCAN:
            return list(self.records)
        rows = [r for r in self.records if cursor is None or r[1] is None or r[1] >= cursor]
        if self._ordering is Ordering.CURSOR_ORDERED:
            rows.sort(key=lambda r: (r[1] or T0, r[0]))
        else:
            rows.sort(key=lambda r: r[0], reverse=True)
        return rows

    def fetch_since(self, cursor: datetime | None) -> Iterator[RecordItem]:
        self.since_seen.append(cursor)
        try:
            for n, (key, when) in enumerate(self.selected(cursor)):
                if self.fail_after is not None and n >= self.fail_after:
                    raise SourceBroke(f"source broke after {n} items")
                yield RecordItem(key=key, cursor=when, payload={"key": key}, stream=self._name)
        finally:
            self.closed = True


class ListSink:
    """Records keys on flush; ``fail_on_flush`` = 1-based flush call that raises."""

    def __init__(self, name: str = "list", *, fail_on_flush: int | None = None) -> None:
        self._name = name
        self.buffer: list[str] = []
        self.durable: list[str] = []
        self.flushes = 0
        self.fail_on_flush = fail_on_flush
        self.closed = False

    @property
    def name(self) -> str:
        return self._name

    @property
    def pending(self) -> int:
        return len(self.buffer)

    @property
    def counts(self) -> SinkCounts:
        return SinkCounts(written=len(self.durable))

    def add(self, item: RecordItem) -> None:
        self.buffer.append(item.key)

    def flush(self) -> int:
        self.flushes += 1
        if self.fail_on_flush is not None and self.flushes == self.fail_on_flush:
            raise SourceBroke("sink flush failed")
        count = len(self.buffer)
        self.durable.extend(self.buffer)
        self.buffer.clear()
        return count

    def close(self) -> None:
        self.closed = True


def document(
    key: str, data: bytes, *, name: str | None = None, cursor: datetime | None = None
) -> DocumentItem:
    return DocumentItem(
        key=key,
        cursor=cursor or T0,
        name=name or f"{key}.pdf",
        media_type="application/pdf",
        open=lambda: io.BytesIO(data),
    )
