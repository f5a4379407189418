"""Nuntiq source documents as a source: every file of every document created since a cursor.

Used in the push direction (Nuntiq -> Codat): the Codat push connector syncs this source
into its uploader. The cursor is the document's ``created_at``; the list endpoint orders
by ``(created_at, id)`` and filters ``created_after`` *exclusively*, so the source asks
for one microsecond before the bound to keep the protocol's inclusive lower bound, and
pages by keyset (re-query after the last ``created_at`` seen) rather than by offset, so
documents created while it pages are neither skipped nor repeated.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator, Mapping
from datetime import datetime, timedelta
from typing import IO, Any, TypeVar

from adapters.cursor import format_cursor, parse_timestamp
from adapters.nuntiq.retrier import nuntiq_retrier
from adapters.protocol import Ordering
from adapters.records import DocumentItem
from adapters.retry import Retrier
from adapters.runtime import ApiLike, ContextLike

__all__ = ["NuntiqDocumentSource"]

PATH = "/v1/source-documents"
_TICK = timedelta(microseconds=1)

T = TypeVar("T")


class NuntiqDocumentSource:
    """Yields one :class:`DocumentItem` per file, key ``"<document id>/<file name>"``.

    ``document_type`` restricts the listing; ``retrier`` (Nuntiq-classified) retries the
    list and download calls. ``open()`` downloads through ``download_attachment``, which
    the framework defines as returning the whole file as bytes.
    """

    def __init__(
        self,
        api: ApiLike,
        *,
        name: str = "source_documents",
        retrier: Retrier,
        page_size: int = 100,
        document_type: str | None = None,
    ) -> None:
        if not 1 <= page_size <= 1000:
            raise ValueError(f"page_size must be 1..1000, got {page_size}")
        self.api = api
        self._name = name
        self.retrier = retrier
        self.page_size = page_size
        self.document_type = document_type

    @classmethod
    def for_context(
        cls, context: ContextLike, **options: Any
    ) -> NuntiqDocumentSource:
        """The usual wiring: ``context.api``, list and download calls retried under ``config.retry``."""
        return cls(context.api, retrier=nuntiq_retrier(context), **options)

    @property
    def name(self) -> str:
        return self._name

    @property
    def ordering(self) -> Ordering:
        return Ordering.CURSOR_ORDERED

    @property
    def lookback(self) -> timedelta:
        """Zero: a document's creation time is set once, when it is stored, and never arrives late."""
        return timedelta(0)

    def close(self) -> None:
        """Holds nothing of its own (the framework owns ``context.api``)."""

    def fetch_since(self, cursor: datetime | None) -> Iterator[DocumentItem]:
        after = format_cursor(cursor - _TICK) if cursor is not None else None
        seen: set[str] = set()  # ids already yielded at the current keyset boundary
        page, consumed = 1, 0  # page within the current query, documents it already gave
        while True:
            documents, count = self._list(after, page)
            if not documents:
                return
            for document in documents:
                if str(document["id"]) not in seen:
                    yield from self._items(document)
            consumed += len(documents)
            # A short page ends the query only when ``count`` confirms it (a capped page is
            # short too); a full page or a count that may be stale never ends it alone, and
            # without a count only an empty page does (the same rule as adapters.nuntiq.listing)
            if len(documents) < self.page_size and count is not None and consumed >= count:
                return
            last = documents[-1]["created_at"]
            boundary = format_cursor(parse_timestamp(last) - _TICK)
            tied = {str(d["id"]) for d in documents if d["created_at"] == last}
            if boundary == after:
                # a whole page shares one created_at: step through that group by page
                seen |= tied
                page += 1
            else:
                after, seen, page, consumed = boundary, tied, 1, 0

    def _list(self, after: str | None, page: int) -> tuple[list[Mapping[str, Any]], int | None]:
        params: dict[str, Any] = {"page": page, "limit": self.page_size}
        if after is not None:
            params["created_after"] = after
        if self.document_type is not None:
            params["document_type"] = self.document_type
        body = self._call(_bind(self.api.get, PATH, params), step="list_source_documents")
        items = body.get("items", []) if isinstance(body, Mapping) else []
        count = body.get("count") if isinstance(body, Mapping) else None
        documents = [i for i in items if isinstance(i, Mapping)]
        return documents, count if isinstance(count, int) and not isinstance(count, bool) else None

    def _items(self, document: Mapping[str, Any]) -> Iterator[DocumentItem]:
        doc_id = str(document["id"])
        created = parse_timestamp(str(document["created_at"]))
        meta = {
            "document_id": doc_id,
            "document_type": document.get("document_type"),
            "external_reference": document.get("external_reference"),
            "properties": dict(document.get("properties") or {}),
        }
        for file in document.get("files") or []:
            token = str(file["attachment_token"])
            yield DocumentItem(
                key=f"{doc_id}/{file['file_name']}",
                cursor=created,
                name=str(file["file_name"]),
                media_type=str(file.get("media_type") or "application/octet-stream"),
                open=self._opener(token),
                size=file.get("size"),
                sha256=file.get("sha256"),
                metadata=meta,
                stream=self._name,
            )

    def _opener(self, token: str) -> Callable[[], IO[bytes]]:
        def open_attachment() -> IO[bytes]:
            data = self._call(lambda: self.api.download_attachment(token), step="download_attachment")
            return io.BytesIO(data)

        return open_attachment

    def _call(self, fn: Callable[[], T], *, step: str) -> T:
        return self.retrier.call(fn, step=step)


def _bind(get: Callable[..., Any], path: str, params: Mapping[str, Any]) -> Callable[[], Any]:
    return lambda: get(path, params=params)
