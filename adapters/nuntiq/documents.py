"""Nuntiq source documents as a source: every file of every document created since a cursor.

Used in the push direction (Nuntiq -> Codat): the Codat push connector syncs this source
into its uploader. The cursor is the document's ``created_at``. The sandbox lists by
``(created_at, id)`` and filters ``created_after`` exclusively, but neither is
confirmed (see the README's Nuntiq assumptions), so :meth:`fetch_since` reads one query
page after page, checks the bound and the order itself, and drops repeats by id: a
document created while it pages lands at the end of an oldest-first listing and is read
there; in a newest-first one the pages shift and only repeat.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator, Mapping
from datetime import datetime, timedelta
from typing import IO, Any, TypeVar

from adapters.cursor import format_cursor, parse_timestamp
from adapters.nuntiq.listing import PageLimit, iter_rows
from adapters.nuntiq.retrier import nuntiq_retrier
from adapters.nuntiq.shapes import ShapeError
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
        self._page = PageLimit(page_size)

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
        """Every file of every document created at or after ``cursor``, oldest document first.

        The listing is read as one query (``created_after`` one tick before the bound),
        page after page by whatever paging the server uses. Neither the filter nor the
        order is confirmed, so each document is checked here: one created before the
        bound is dropped (a filter that is inclusive or ignored), one seen before is
        dropped (pages that shift while read). A listing that turns out newest-first is
        read to its end and yielded oldest-first (holding that window's document
        metadata, never file bytes); one in no order at all is refused, naming it.
        """
        documents = self._documents(cursor)
        pending: list[Mapping[str, Any]] = []  # read, order not yet known
        order: str | None = None
        last: datetime | None = None
        for document in documents:
            created = parse_timestamp(str(document["created_at"]))
            if order is None:
                pending.append(document)
                order = _order(pending)
                if order == "ascending":
                    for held in pending:
                        yield from self._items(held)
                    last, pending = created, []
                continue
            if order == "descending":
                pending.append(document)
                continue
            if last is not None and created < last:
                raise ShapeError(
                    f"{PATH}: document {document['id']!r} created {created.isoformat()} listed after one "
                    f"created {last.isoformat()} (assumed: the listing is ordered by created_at, "
                    "oldest or newest first)"
                )
            last = created
            yield from self._items(document)
        pending.sort(key=lambda d: (parse_timestamp(str(d["created_at"])), str(d["id"])))
        for held in pending:
            yield from self._items(held)

    def _documents(self, cursor: datetime | None) -> Iterator[Mapping[str, Any]]:
        """The listing's documents at or after ``cursor``, each once."""
        params: dict[str, Any] = {}
        if cursor is not None:
            params["created_after"] = format_cursor(cursor - _TICK)
        if self.document_type is not None:
            params["document_type"] = self.document_type
        rows = iter_rows(
            lambda query: self._call(_bind(self.api.get, PATH, query), step="list_source_documents"),
            params,
            limit=self._page,
            describe=PATH,
        )
        seen: set[str] = set()
        for document in rows:
            doc_id = str(document.get("id", ""))
            if not doc_id or doc_id in seen:
                continue
            if cursor is not None and parse_timestamp(str(document["created_at"])) < cursor:
                continue
            if self.document_type is not None and document.get("document_type") != self.document_type:
                continue
            seen.add(doc_id)
            yield document

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


def _order(documents: list[Mapping[str, Any]]) -> str | None:
    """``ascending`` or ``descending`` once two creation times differ; ``None`` until then."""
    first = parse_timestamp(str(documents[0]["created_at"]))
    last = parse_timestamp(str(documents[-1]["created_at"]))
    if last == first:
        return None
    return "ascending" if last > first else "descending"
