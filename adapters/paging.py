"""One page loop for every paged list, with a stop rule no single signal can fool.

Servers end lists in ways that are each sometimes wrong: a ``Content-Range`` or
``total`` count that is smaller than the truth (stale, estimated, or cut by a proxy),
a page the server capped below the asked size, an empty page in the middle of a list
(a replica catching up, a transient fault). A loop that stops on any one of them
loses everything after it, silently, and the cursor then moves past the loss.

:func:`iter_pages` therefore stops only when the list itself says so by having
nothing left *at the next position*:

* a short page never ends the list (it may be a capped one): the next page is asked;
* a total never ends the list: a total smaller than what was read is ignored;
* an empty page ends it only when it is answered again (``recheck_empty`` times): a
  transient empty page in the middle is then read past even when the total is also
  too small to contradict it; and when the total claims more than was read and the
  caller can name a position beyond it (``look_past``, offset paging), the loop looks
  there too: items past a lasting empty page are a hole the loop cannot read, so it
  raises :class:`PagingGapError` instead of returning a list with a hole in it.

The cost is two extra requests per list (the empty page that ends it, asked twice).
The loop knows nothing about HTTP or any one API: ``fetch(position)`` returns a
:class:`Page` and ``advance(position, page)`` names the next position, so the same
loop serves offset paging, keyset paging (position = the last key seen) and
continuation tokens (``advance`` returns None when the server sends no token).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

__all__ = ["Page", "PagingError", "PagingGapError", "iter_offset", "iter_pages"]

T = TypeVar("T")
P = TypeVar("P")


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    """One answer of a list endpoint.

    ``total`` is the size the server claims for the whole list (None when it sends
    none); ``start`` is the index of ``items[0]`` in that list: the offset for offset
    paging, 0 for keyset paging, where every request starts a new, shorter list.
    """

    items: Sequence[T]
    total: int | None = None
    start: int = 0

    @property
    def claims_more(self) -> bool:
        """Whether the server's total says items exist past this page."""
        return self.total is not None and self.total > self.start + len(self.items)


class PagingError(Exception):
    """A list the loop cannot read to its end without risking loss (never retried)."""


class PagingGapError(PagingError):
    """An empty page with items after it: the records in between cannot be read."""


def iter_pages(
    fetch: Callable[[P], Page[T]],
    start: P,
    advance: Callable[[P, Page[T]], P | None],
    *,
    recheck_empty: int = 1,
    look_past: Callable[[P], P] | None = None,
    max_pages: int | None = None,
    describe: str = "list",
) -> Iterator[Page[T]]:
    """Every non-empty page of a list, in order, until the list is exhausted.

    ``advance(position, page)`` is called after each non-empty page has been consumed
    and returns the next position; returning None ends the list (for APIs whose
    continuation token is the authority, or a caller that wants to stop early). A
    position that does not change after a non-empty page raises :class:`PagingError`
    rather than looping forever; so does passing ``max_pages``.
    """
    position = start
    pages = 0
    while True:
        page = fetch(position)
        pages += 1
        rechecks = 0
        while not page.items and rechecks < recheck_empty:
            page = fetch(position)
            rechecks += 1
        if not page.items:
            if page.claims_more and look_past is not None:
                beyond = look_past(position)
                probe = fetch(beyond)
                if probe.items:
                    raise PagingGapError(
                        f"{describe}: empty page at {position!r} although the server claims "
                        f"{page.total} items and has items at {beyond!r}; the records between "
                        "cannot be read, so the list is refused rather than read with a hole"
                    )
            return
        yield page
        following = advance(position, page)
        if following is None:
            return
        if following == position:
            raise PagingError(f"{describe}: a page at {position!r} did not move the position on")
        if max_pages is not None and pages >= max_pages:
            raise PagingError(f"{describe}: more than {max_pages} pages")
        position = following


def iter_offset(
    fetch: Callable[[int, int], Page[T]],
    *,
    limit: int,
    max_items: int | None = None,
    describe: str = "list",
) -> Iterator[T]:
    """Offset paging that advances by what *arrived*, never by what was asked.

    ``fetch(limit, offset)`` returns one page. A capped page therefore costs a request,
    not the records the cap held back, and :func:`iter_pages` decides where the list
    ends. ``max_items`` bounds lists that must stay small.
    """

    def at(offset: int) -> Page[T]:
        return fetch(limit, offset)

    def advance(offset: int, page: Page[T]) -> int:
        following = offset + len(page.items)
        if max_items is not None and following > max_items:
            raise PagingError(f"{describe}: longer than {max_items} items")
        return following

    for page in iter_pages(at, 0, advance, look_past=lambda offset: offset + limit, describe=describe):
        yield from page.items
