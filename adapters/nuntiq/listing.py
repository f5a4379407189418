"""One page loop for Nuntiq's ``{items, count, page}`` lists (custom data, source documents).

Every Nuntiq list the package reads (ledger rows, lease claims, quarantine entries, Codat
day summaries, source documents when reconciling) is paged by ``page``/``limit``. A
loop that stops on one signal alone can lose rows: a short page may be a page the
server capped below ``limit``, a ``count`` may be stale or smaller than the truth, an
empty page may be a transient hole in the middle. So :func:`iter_rows` ends a list only
when two signals agree:

* a short (or empty) page ends it when ``count`` confirms every row was read;
* without a usable ``count``, an empty page ends it only when the same page is empty a
  second time;
* an empty page while ``count`` claims more is asked again and then looked past; rows
  beyond a lasting empty page are a hole that cannot be read, so the loop raises
  :class:`~adapters.paging.PagingGapError` instead of returning a list with a hole.

In the common case (one short page whose ``count`` agrees) this costs no request more
than the naive loop, which matters because ledger reads sit on every delivery's path.
What it cannot see is two signals wrong at once at the same place: a ``count`` too
small *and* a transient empty page exactly where that count ends.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from adapters.paging import PagingError, PagingGapError

__all__ = ["iter_rows", "row_value"]

#: fetch one page: gets the full query (with ``page`` and ``limit``), returns the parsed body
PageGetter = Callable[[dict[str, Any]], Any]


def _page(
    get: PageGetter, params: Mapping[str, Any], page: int, limit: int, describe: str
) -> tuple[list[Mapping[str, Any]], int | None]:
    body = get({**params, "page": page, "limit": limit})
    items = body.get("items") if isinstance(body, Mapping) else None
    if not isinstance(items, list):
        raise PagingError(f"{describe}: page {page} is not a list answer ({str(body)[:120]!r})")
    count = body.get("count")
    usable = count if isinstance(count, int) and not isinstance(count, bool) and count >= 0 else None
    return [item for item in items if isinstance(item, Mapping)], usable


def iter_rows(
    get: PageGetter, params: Mapping[str, Any], *, limit: int, describe: str
) -> Iterator[Mapping[str, Any]]:
    """Every row of the list ``get`` reads with ``params``, page after page."""
    page, seen = 1, 0
    while True:
        items, count = _page(get, params, page, limit, describe)
        yield from items
        seen += len(items)
        if items and len(items) == limit:
            page += 1
            continue
        if count is not None and seen >= count:
            return  # a short (or empty) page and the count agree
        if items:
            page += 1  # a short page the count does not confirm: capped, or no count
            continue
        # an empty page the count does not confirm (or no count at all): ask again
        again, count = _page(get, params, page, limit, describe)
        if again:
            yield from again
            seen += len(again)
            page += 1
            continue
        if count is None or seen >= count:
            return
        beyond, _ = _page(get, params, page + 1, limit, describe)
        if beyond:
            raise PagingGapError(
                f"{describe}: page {page} stays empty while page {page + 1} holds rows "
                f"(count {count}, {seen} read): the rows between cannot be read"
            )
        return  # count larger than the list: it lied, nothing lies beyond


def row_value(value: Any) -> Mapping[str, Any] | None:
    """A custom-data row's value as a mapping: stored as JSON or as a JSON-encoded string.

    Anything else (a foreign or damaged row) is ``None``, so readers skip it instead of
    failing on a row they never wrote.
    """
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return None
    return value if isinstance(value, Mapping) else None
