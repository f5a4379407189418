"""One page loop for Nuntiq's lists (custom data, source documents), whatever their form.

The documented form is ``{items, count, page}``; a bare list, ``{data, total}`` and a
next-cursor form are read too (:mod:`adapters.nuntiq.shapes`), and a ``limit`` the
server refuses is halved (:class:`PageLimit`), because none of that is confirmed.

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

from adapters.nuntiq.shapes import ListPage, ShapeError, list_page
from adapters.paging import PagingGapError

__all__ = ["PageLimit", "iter_rows", "row_value"]

#: fetch one page: gets the full query (with ``page`` and ``limit``), returns the parsed body
PageGetter = Callable[[dict[str, Any]], Any]

#: the smallest page asked for after a server refused a larger ``limit``
MIN_LIMIT = 10


class PageLimit:
    """The page size one reader asks for, halved for good when the server refuses it.

    Nuntiq's largest accepted ``limit`` is unconfirmed (a server may answer ``400`` above
    its cap rather than clamp), so a refused size is halved, down to :data:`MIN_LIMIT`,
    and the smaller size is kept: a reader that lists on every delivery pays for the
    refusal once, not on every list.
    """

    def __init__(self, value: int) -> None:
        if value < 1:
            raise ValueError(f"a page limit must be positive, got {value}")
        self.value = value

    def refused(self) -> bool:
        """Halve after a refusal; ``False`` when already at the floor (the refusal stands)."""
        if self.value <= MIN_LIMIT:
            return False
        self.value = max(MIN_LIMIT, self.value // 2)
        return True


def _status(exc: BaseException) -> int | None:
    """The HTTP status of a failed list call: the framework's ``ApiError`` or a classified error."""
    status = getattr(exc, "status_code", None)
    if status is None:
        status = getattr(getattr(exc, "failure", None), "status", None)
    return status if isinstance(status, int) and not isinstance(status, bool) else None


def _identity(items: list[Mapping[str, Any]]) -> tuple[str, ...]:
    """The page's row keys (or document ids); empty when a row has neither, so never compared."""
    names = [i.get("key", i.get("id")) for i in items]
    return tuple(str(n) for n in names) if all(n is not None for n in names) else ()


def _prefixed(items: list[Mapping[str, Any]], prefix: Any) -> list[Mapping[str, Any]]:
    """Rows under ``key_prefix``: a server that ignores the filter answers the whole table."""
    if not isinstance(prefix, str) or not prefix:
        return items
    return [i for i in items if str(i.get("key", "")).startswith(prefix)]


class _Lister:
    """One list read: its query, its page size, and what it has read so far."""

    def __init__(self, get: PageGetter, params: Mapping[str, Any], limit: PageLimit, describe: str) -> None:
        self.get = get
        self.params = dict(params)
        self.limit = limit
        self.describe = describe
        self.started = False  # a page was answered: the size is settled for this list
        self.previous: tuple[str, ...] = ()

    def page(self, page: int, cursor: Mapping[str, str] | None = None) -> ListPage:
        while True:
            where: Mapping[str, Any] = cursor if cursor is not None else {"page": page}
            query = {**self.params, **where, "limit": self.limit.value}
            try:
                body = self.get(query)
            except Exception as exc:
                if self.started or _status(exc) != 400 or not self.limit.refused():
                    raise
                continue  # the size was refused: ask the same page smaller
            self.started = True
            result = list_page(body, self.describe)
            identity = _identity(result.items)
            if identity and identity == self.previous and cursor is None:
                raise ShapeError(
                    f"{self.describe}: page {page} repeats the page before it (assumed: the list "
                    f"pages by `page` number or by a next cursor); got the same {len(identity)} rows "
                    f"again, first {identity[0]!r}"
                )
            self.previous = identity
            return result


def iter_rows(
    get: PageGetter, params: Mapping[str, Any], *, limit: int | PageLimit, describe: str
) -> Iterator[Mapping[str, Any]]:
    """Every row of the list ``get`` reads with ``params``, page after page.

    The answer may be any form :func:`adapters.nuntiq.shapes.list_page` reads; a server
    that pages by cursor is followed by its cursor, one that pages by number by the
    rules above. Rows outside a ``key_prefix`` in ``params`` are dropped here, so a
    server that ignores the filter costs requests, not correctness.
    """
    lister = _Lister(get, params, limit if isinstance(limit, PageLimit) else PageLimit(limit), describe)
    prefix = params.get("key_prefix")
    first = lister.page(1)
    if first.by_cursor:
        yield from _by_cursor(lister, first, prefix)
    else:
        yield from _by_number(lister, first, prefix)


def _by_cursor(lister: _Lister, page: ListPage, prefix: Any) -> Iterator[Mapping[str, Any]]:
    """A cursor list ends only where the server gives no next cursor."""
    while True:
        yield from _prefixed(page.items, prefix)
        if page.next_params is None:
            return
        page = lister.page(0, page.next_params)


def _by_number(lister: _Lister, first: ListPage, prefix: Any) -> Iterator[Mapping[str, Any]]:
    page, seen, answer = 1, 0, first
    while True:
        items, count = answer.items, answer.count
        yield from _prefixed(items, prefix)
        seen += len(items)
        limit = lister.limit.value
        if items and len(items) >= limit:
            page += 1
            answer = lister.page(page)
            continue
        if count is not None and seen >= count:
            return  # a short (or empty) page and the count agree
        if items:
            page += 1  # a short page the count does not confirm: capped, or no count
            answer = lister.page(page)
            continue
        # an empty page the count does not confirm (or no count at all): ask again
        lister.previous = ()
        again = lister.page(page)
        if again.items:
            answer = again
            continue
        count = again.count
        if count is None or seen >= count:
            return
        beyond = lister.page(page + 1)
        if beyond.items:
            raise PagingGapError(
                f"{lister.describe}: page {page} stays empty while page {page + 1} holds rows "
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
