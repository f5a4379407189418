"""RQL for incremental reads, built with ``connect.client.R``.

Times are sent in UTC as ``YYYY-MM-DDTHH:MM:SS.ffffffZ``: the client pastes the RQL
into the URL unencoded, and a ``+00:00`` offset would reach the server as a space.

Keyset position: the last cursor value seen and the ids already delivered *at* that
value. Connect cannot filter ``id`` with ``gt`` (only ``eq``/``in``/``out``...), so ties
are stepped over with ``or(gt(f,T), and(eq(f,T), out(id,(...))))``: records at a later
value always match, records at the boundary value match unless already delivered.
The id list is bounded (:mod:`adapters.connect.ties`): a larger tie group is read on
its own and the position then moves strictly past its value.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from connect.client import R

from adapters.cursor import format_cursor

__all__ = ["KeysetPosition", "build_query_string", "keyset_filter", "rql_time", "window_filter"]


def rql_time(value: datetime) -> str:
    """A datetime as an RQL value: UTC, microseconds, ``Z`` suffix (no ``+`` in URLs)."""
    return format_cursor(value)


@dataclass(frozen=True, slots=True)
class KeysetPosition:
    """Where the previous page ended: its last ``order_field`` value and the ids seen at it."""

    value: datetime
    tie_ids: frozenset[str]


def keyset_filter(order_field: str, position: KeysetPosition | None, key_field: str = "id") -> R:
    """Records strictly after ``position`` in ``(order_field, id-set)`` order.

    A position without tie ids means "strictly after the value" (its whole tie group
    has been read on its own).
    """
    if position is None:
        return R()
    at = rql_time(position.value)
    after = R().n(order_field).gt(at)
    if not position.tie_ids:
        return after
    same = R().n(order_field).eq(at) & R().n(key_field).out(sorted(position.tie_ids))
    return after | same


def window_filter(field: str, since: datetime | None, until: datetime | None = None) -> R:
    """``since <= field < until`` (either side optional)."""
    query = R()
    if since is not None:
        query &= R().n(field).ge(rql_time(since))
    if until is not None:
        query &= R().n(field).lt(rql_time(until))
    return query


def build_query_string(query: R, *, ordering: Sequence[str] = (), select: Sequence[str] = ()) -> str:
    """The query string the way ``ResourceSet`` writes it: ``select(..)&<rql>&ordering(..)``."""
    parts: list[str] = []
    if select:
        parts.append(f"select({','.join(select)})")
    text = str(query)
    if text:
        parts.append(text)
    if ordering:
        parts.append(f"ordering({','.join(ordering)})")
    return "&".join(parts)
