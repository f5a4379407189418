"""Page fetching that cannot skip records.

``ResourceSet`` iteration advances ``offset`` by the *requested* limit; a server that
caps its page size makes it skip records silently. So pages are fetched one call at a
time here, always at ``offset=0`` with a keyset filter (or, for small nested lists,
at an offset advanced by what actually arrived), and every page is checked against
its ``Content-Range`` before a single item is handed on.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from typing import Any

from connect.client import ConnectClient, R

from adapters.connect.errors import ConnectPageError
from adapters.connect.query import KeysetPosition, build_query_string, keyset_filter
from adapters.cursor import CursorError, parse_timestamp
from adapters.retry import Retrier

__all__ = [
    "ContentRange",
    "Page",
    "fetch_page",
    "get_path",
    "iter_keyset",
    "iter_offset",
    "parse_content_range",
]

_RANGE = re.compile(r"^\s*items\s+(\d+)-(-?\d+)/(\d+|\*)\s*$")


@dataclass(frozen=True, slots=True)
class ContentRange:
    first: int
    last: int
    count: int | None  # None when the server sent ``*``

    @property
    def is_last_page(self) -> bool:
        return self.count is not None and self.last >= self.count - 1


@dataclass(frozen=True, slots=True)
class Page:
    items: list[dict[str, Any]]
    content_range: ContentRange | None


def parse_content_range(value: str | None) -> ContentRange | None:
    """``items 0-99/5000`` -> ContentRange; absent or unreadable -> None."""
    if not value:
        return None
    match = _RANGE.match(value)
    if not match:
        return None
    count = None if match.group(3) == "*" else int(match.group(3))
    return ContentRange(int(match.group(1)), int(match.group(2)), count)


def get_path(item: Mapping[str, Any], dotted: str) -> Any:
    """``get_path(x, "events.created.at")`` -> ``x["events"]["created"]["at"]`` or None."""
    current: Any = item
    for part in dotted.split("."):
        if not isinstance(current, Mapping):
            return None
        current = current.get(part)
    return current


def fetch_page(client: ConnectClient, path: str, query_string: str, *, limit: int, offset: int) -> Page:
    """One GET of a list endpoint, validated against the request and ``Content-Range``."""
    url = f"{path}?{query_string}" if query_string else path
    body = client.get(url, params={"limit": limit, "offset": offset})
    if not isinstance(body, list):
        raise ConnectPageError(f"GET {path}: expected a JSON array, got {type(body).__name__}")
    items: list[dict[str, Any]] = body
    response = client.response
    header = response.headers.get("Content-Range") if response is not None else None
    content_range = parse_content_range(header)
    if len(items) > limit:
        raise ConnectPageError(f"GET {path}: asked for {limit} items, got {len(items)}")
    if content_range is not None and items:
        if content_range.first != offset:
            raise ConnectPageError(
                f"GET {path}: asked for offset {offset}, "
                f"Content-Range {header!r} starts at {content_range.first}"
            )
        if content_range.last - content_range.first + 1 != len(items):
            raise ConnectPageError(f"GET {path}: Content-Range {header!r} does not match {len(items)} items")
    return Page(items, content_range)


def _order_value(item: Mapping[str, Any], field: str, path: str) -> datetime:
    raw = get_path(item, field)
    try:
        if raw is None:
            raise CursorError("missing")
        return parse_timestamp(raw)
    except CursorError:
        raise ConnectPageError(
            f"GET {path}: record {item.get('id')!r} has no usable {field!r} value ({raw!r})"
        ) from None


def iter_keyset(
    client: ConnectClient,
    retrier: Retrier,
    path: str,
    base: R,
    *,
    order_field: str,
    limit: int,
    step: str,
    select: tuple[str, ...] = (),
    max_tie_ids: int = 1000,
    key_field: str = "id",
) -> Iterator[dict[str, Any]]:
    """Every record matching ``base``, ascending by ``order_field``, keyset paged.

    Each request is ``base & after(position)`` ordered by ``order_field`` at offset 0,
    so a capped page size only means more requests, and a record that moves (its
    order field grows) is met again later instead of shifting others past an offset.
    """
    position: KeysetPosition | None = None
    while True:
        query = base & keyset_filter(order_field, position, key_field)
        qs = build_query_string(query, ordering=(order_field,), select=select)
        fetch = partial(_keyset_page, client, path, qs, limit, position, order_field, key_field, max_tie_ids)
        # validation runs inside the retrier so a bad page ends the run as a classified
        # ``invalid`` failure (AdapterError), like any other non-retryable answer
        page, new_position = retrier.call(fetch, step=step)
        if new_position is None:
            return
        position = new_position
        yield from page.items
        if page.content_range is not None and page.content_range.is_last_page:
            return


def _keyset_page(
    client: ConnectClient,
    path: str,
    qs: str,
    limit: int,
    position: KeysetPosition | None,
    order_field: str,
    key_field: str,
    max_tie_ids: int,
) -> tuple[Page, KeysetPosition | None]:
    """Fetch one keyset page, check its order, and compute the position after it."""
    page = fetch_page(client, path, qs, limit=limit, offset=0)
    if not page.items:
        return page, None
    previous = position.value if position is not None else None
    values: list[datetime] = []
    for item in page.items:
        value = _order_value(item, order_field, path)
        if previous is not None and value < previous:
            raise ConnectPageError(
                f"GET {path}: records not ordered by {order_field!r} "
                f"(record {item.get(key_field)!r} at {value.isoformat()} after {previous.isoformat()})"
            )
        previous = value
        values.append(value)
    last = values[-1]
    ties = {str(item.get(key_field)) for item, v in zip(page.items, values, strict=True) if v == last}
    if position is not None and position.value == last:
        ties |= position.tie_ids
    if len(ties) > max_tie_ids:
        raise ConnectPageError(
            f"GET {path}: more than {max_tie_ids} records share {order_field}={last.isoformat()}; "
            "raise connect_max_tie_ids to page past them"
        )
    new_position = KeysetPosition(last, frozenset(ties))
    if new_position == position:
        raise ConnectPageError(f"GET {path}: keyset page made no progress at {last.isoformat()}")
    return page, new_position


def iter_offset(
    fetch: Callable[[int, int], Page],
    *,
    limit: int,
    max_items: int = 100_000,
) -> Iterator[dict[str, Any]]:
    """Offset paging for small nested lists, advancing by what *arrived*, not by ``limit``.

    ``fetch(limit, offset)`` returns a validated page; a short page is only the end when
    ``Content-Range`` says so, otherwise the end is an empty page.
    """
    offset = 0
    while offset < max_items:
        page = fetch(limit, offset)
        if not page.items:
            return
        yield from page.items
        offset += len(page.items)
        # without a Content-Range a short page may be a capped one: ask again until empty
        if page.content_range is not None and page.content_range.is_last_page:
            return
    raise ConnectPageError(f"list longer than {max_items} items")
