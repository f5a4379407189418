"""The shapes of Nuntiq answers that no reference confirms, read in every plausible form.

Why: the framework documents one list shape (``{"items", "count", "page"}`` for
``/v1/supplier``) and that ``upload_source_documents`` "creates a new source document",
but not how custom-data and source-document lists page, what a custom-data upsert
answers, or what an upload answers. Each guess is a sandbox variant
(``sandbox/nuntiq/variants.py``, listed in the README); this module is the one place
the package reads those answers, so every reader accepts every form the variants
serve, and refuses at once, naming the assumption, what it expected and what it saw,
when an answer fits none of them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from adapters.cursor import CursorError, parse_timestamp
from adapters.paging import PagingError

__all__ = [
    "ListPage",
    "ShapeError",
    "list_page",
    "row_stamp",
    "upload_answer",
    "upsert_stamp",
]

#: where a list answer may keep its rows
_ITEM_KEYS = ("items", "data", "results", "rows", "documents")
#: where it may keep the total number of matching rows
_COUNT_KEYS = ("count", "total", "total_count", "totalCount")
#: where it may keep a cursor for the next page (a token, or a URL holding one)
_NEXT_KEYS = ("next_cursor", "nextCursor", "next", "next_page_token", "cursor")
#: the names a server-written row timestamp may go by
_STAMP_KEYS = ("updated_at", "updatedAt", "modified_at", "modifiedAt", "server_time")

#: the query parameter a next-page token is sent back in
CURSOR_PARAM = "cursor"


class ShapeError(PagingError):
    """A Nuntiq answer fits none of the shapes the package knows; names the assumption."""


def _shown(body: Any) -> str:
    return repr(body)[:160]


@dataclass(frozen=True)
class ListPage:
    """One page of a list answer, whatever its form.

    ``count`` is the total the server claims (``None`` when it sends none);
    ``next_params`` is what to send for the next page when the server pages by cursor
    (``None`` when it pages by ``page`` number, or has nothing further).
    """

    items: list[Mapping[str, Any]]
    count: int | None
    next_params: dict[str, str] | None
    by_cursor: bool


def _count(value: Any) -> int | None:
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    return None


def _next(value: Any) -> dict[str, str] | None:
    """The parameters a next-page hint asks for: a token, or the query of a next URL."""
    if not isinstance(value, str) or not value:
        return None
    if "?" in value or value.startswith(("http://", "https://", "/")):
        query = dict(parse_qsl(urlsplit(value).query))
        return query or None
    return {CURSOR_PARAM: value}


def list_page(body: Any, describe: str) -> ListPage:
    """Read a list answer: ``{items|data|results, count|total, page}``, a bare list, or a cursor form.

    Raises :class:`ShapeError` naming the list and what arrived for anything else.
    """
    if isinstance(body, list):
        return ListPage([i for i in body if isinstance(i, Mapping)], None, None, False)
    if isinstance(body, Mapping):
        items = next((body[k] for k in _ITEM_KEYS if isinstance(body.get(k), list)), None)
        if items is not None:
            count = next((c for c in (_count(body.get(k)) for k in _COUNT_KEYS) if c is not None), None)
            hint = next((body[k] for k in _NEXT_KEYS if k in body), None)
            by_cursor = any(k in body for k in _NEXT_KEYS) and "page" not in body
            return ListPage([i for i in items if isinstance(i, Mapping)], count, _next(hint), by_cursor)
    raise ShapeError(
        f"{describe}: the answer is not a list in any form the package reads (assumed: a JSON list, "
        f"or an object with one of {', '.join(_ITEM_KEYS)} holding the rows); got {_shown(body)}"
    )


def row_stamp(row: Mapping[str, Any]) -> Any:
    """The server-written timestamp of a listed custom-data row (raw), or ``None``."""
    return next((row[k] for k in _STAMP_KEYS if row.get(k) is not None), None)


def upsert_stamp(body: Any) -> Any:
    """The server's time of a custom-data upsert, from its answer (raw), or ``None``.

    Read from the answer itself (``updated_at`` and its other spellings), or, when the
    server echoes the rows it wrote, the latest of their stamps. ``None`` when the answer
    carries no time at all (the caller then reads the row back).
    """
    if not isinstance(body, Mapping):
        return None
    stamp = row_stamp(body)
    if stamp is not None:
        return stamp
    rows = next((body[k] for k in _ITEM_KEYS if isinstance(body.get(k), list)), None)
    stamps: list[datetime] = []
    for row in rows or ():
        raw = row_stamp(row) if isinstance(row, Mapping) else None
        if not isinstance(raw, str):
            continue
        try:
            stamps.append(parse_timestamp(raw))
        except CursorError:
            continue
    return max(stamps) if stamps else None


def upload_answer(body: Any) -> Mapping[str, Any]:
    """The document an ``upload_source_documents`` call created, from its answer.

    Accepted: the document itself, a list holding exactly one, or an object wrapping it
    (``document``, or one of the list keys holding exactly one). One upload of one file
    creates one document, so more than one is refused, as is an answer with no ``id``.
    """
    found: Any = body
    if isinstance(body, Mapping) and "id" not in body:
        if isinstance(body.get("document"), Mapping):
            found = body["document"]
        else:
            found = next((body[k] for k in _ITEM_KEYS if isinstance(body.get(k), list)), body)
    if isinstance(found, Sequence) and not isinstance(found, str | bytes):
        documents = [d for d in found if isinstance(d, Mapping)]
        if len(documents) != 1:
            raise ShapeError(
                "source-document upload: expected the one document the upload created (assumed: "
                f"one document per upload), got {len(documents)} in {_shown(body)}"
            )
        found = documents[0]
    if not isinstance(found, Mapping) or "id" not in found:
        raise ShapeError(
            "source-document upload: the answer names no document id (assumed: the created "
            f"document, alone, in a list or wrapped); got {_shown(body)}"
        )
    return found
