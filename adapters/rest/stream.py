"""What a REST listing looks like, declared as data: path, paging, fields, auth.

A :class:`RestStream` says nothing about how to call the API; :class:`~adapters.rest.source.RestSource`
does that, the same way for every stream. Declaring a new integration's listing is
filling in this one dataclass.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta

from adapters.failures import FailureClass
from adapters.protocol import Ordering
from adapters.rest.auth import Auth, NoAuth
from adapters.rest.paging import Paginator

__all__ = ["RestStream"]


@dataclass(frozen=True)
class RestStream:
    """One listing endpoint of a REST API.

    * ``path``: relative to the source's base URL (``"suppliers"``);
    * ``records_path``: where the records are in the body (``"data"``; empty: the body is the list);
    * ``key_field`` / ``cursor_field``: dotted paths of each record's identity and update
      time (``cursor_field=None``: the listing has no time and is scanned in full);
    * ``since_param``: the query parameter that filters by update time (``"updated_after"``).
      It is sent ``since_slack`` earlier than the run's bound and records below the bound
      are dropped here, so APIs whose bound is exclusive lose nothing at it. A
      :class:`~adapters.rest.paging.Keyset` paginator carries its own cursor parameter
      instead;
    * ``params``: fixed query parameters; ``status_overrides``: where this API's statuses
      differ from the shared table; ``lookback``: re-read before the stored cursor, for
      records stamped before they become visible;
    * ``max_passes``: how often a pass is read again when the listing shifted under
      position paging, before the run gives up with the cursor unchanged.
    """

    name: str
    path: str
    paginator: Paginator
    records_path: str = ""
    key_field: str = "id"
    cursor_field: str | None = "updated_at"
    since_param: str | None = None
    since_slack: timedelta = timedelta(seconds=1)
    params: Mapping[str, str] = field(default_factory=dict)
    auth: Auth = field(default_factory=NoAuth)
    status_overrides: Mapping[int, FailureClass] = field(default_factory=dict)
    lookback: timedelta = timedelta(minutes=1)
    max_passes: int = 3
    timeout: float = 30.0

    def __post_init__(self) -> None:
        if self.paginator.walks_cursor and self.since_param:
            raise ValueError(f"stream {self.name!r}: a keyset paginator carries the cursor; drop since_param")
        if self.paginator.walks_cursor and not self.cursor_field:
            raise ValueError(f"stream {self.name!r}: keyset paging needs a cursor_field")
        if self.since_param and not self.cursor_field:
            raise ValueError(f"stream {self.name!r}: since_param filters by cursor_field, which is not set")
        if self.max_passes < 1:
            raise ValueError(f"stream {self.name!r}: max_passes must be at least 1")

    @property
    def ordering(self) -> Ordering:
        """Keyset: cursor ordered. A time filter with any other paging: unordered. Else: full scan.

        Position paging (page number, offset) over a list sorted by update time can skip a
        record that moves while the list is read; the source reads again when it sees that
        happen, and only a finished run moves the cursor.
        """
        if self.paginator.walks_cursor:
            return Ordering.CURSOR_ORDERED
        if self.since_param:
            return Ordering.UNORDERED
        return Ordering.FULL_SCAN
