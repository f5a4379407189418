"""What each Connect list endpoint can do, declared once per stream.

The OpenAPI spec says per endpoint which time fields are filterable and which are
orderable; the paging strategy follows from that and nothing else:

* the cursor field is filterable *and* orderable (``/listings``, ``/requests``,
  ``/billing/batches``, media files): keyset paging on it, items come out in cursor
  order (:attr:`Ordering.CURSOR_ORDERED`);
* the cursor field is filterable but not orderable (``events.updated.at`` on
  ``/subscriptions/*``): filter a window ``[since, run start)`` and keyset-page on an
  orderable field that never changes (``events.created.at``), so records updated while
  we page cannot move across the page boundary (:attr:`Ordering.UNORDERED`);
* no usable time filter (``/tier/accounts``): keyset-page everything on
  ``events.created.at`` and let the caller skip unchanged payloads (:attr:`Ordering.FULL_SCAN`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from adapters.protocol import Ordering

__all__ = ["STREAMS", "StreamSpec", "get_stream"]


@dataclass(frozen=True, slots=True)
class StreamSpec:
    """One Connect list endpoint as a stream.

    ``path`` is relative to the endpoint (``{name}`` placeholders are filled per source);
    ``spec_path`` is the list endpoint's key in the spec-derived capability table.
    ``order_field`` is the keyset field: orderable, filterable with ``eq``/``gt``/``ge``,
    and never changed by an update unless it *is* the cursor. ``tie_field`` (optional)
    is an immutable orderable field that pages through a large group of records
    sharing one ``order_field`` value before id ranges are needed. ``spec_page_size``
    is the largest page the spec's pagination names for the endpoint (None: it names
    none, and the page size is an unconfirmed assumption with a fall-back).
    """

    name: str
    path: str
    spec_path: str
    cursor_field: str
    ordering: Ordering
    order_field: str
    filter_field: str | None
    kind: Literal["record", "document"] = "record"
    key_field: str = "id"
    select: tuple[str, ...] = field(default_factory=tuple)
    tie_field: str | None = None
    spec_page_size: int | None = None

    @property
    def order_fields(self) -> tuple[str, ...]:
        """The keyset fields in order: the order field, then the tie-breaker if any."""
        return (self.order_field,) if self.tie_field is None else (self.order_field, self.tie_field)

    def format_path(self, **params: str) -> str:
        try:
            return self.path.format(**params)
        except KeyError as exc:
            raise ValueError(f"stream {self.name!r} needs path parameter {exc.args[0]!r}") from None


STREAMS: dict[str, StreamSpec] = {
    spec.name: spec
    for spec in (
        StreamSpec(
            name="listings",
            path="listings",
            spec_path="/listings",
            cursor_field="updated",
            ordering=Ordering.CURSOR_ORDERED,
            order_field="updated",
            filter_field="updated",
            tie_field="created",
        ),
        StreamSpec(
            name="requests",
            path="requests",
            spec_path="/requests",
            cursor_field="updated",
            ordering=Ordering.CURSOR_ORDERED,
            order_field="updated",
            filter_field="updated",
            # asset parameters and activation templates dwarf the rest of a request
            select=("-activation_key", "-template"),
            tie_field="created",
            spec_page_size=1000,  # dp.MySQLandRQL1000Pagination
        ),
        StreamSpec(
            name="subscription_assets",
            path="subscriptions/assets",
            spec_path="/subscriptions/assets",
            cursor_field="events.updated.at",
            ordering=Ordering.UNORDERED,
            order_field="events.created.at",
            filter_field="events.updated.at",
        ),
        StreamSpec(
            name="subscription_requests",
            path="subscriptions/requests",
            spec_path="/subscriptions/requests",
            cursor_field="events.updated.at",
            ordering=Ordering.UNORDERED,
            order_field="events.created.at",
            filter_field="events.updated.at",
        ),
        StreamSpec(
            name="tier_accounts",
            path="tier/accounts",
            spec_path="/tier/accounts",
            cursor_field="events.updated.at",
            ordering=Ordering.FULL_SCAN,
            order_field="events.created.at",
            filter_field=None,
        ),
        StreamSpec(
            name="billing_batches",
            path="billing/batches",
            spec_path="/billing/batches",
            cursor_field="events.created.at",
            ordering=Ordering.CURSOR_ORDERED,
            order_field="events.created.at",
            filter_field="events.created.at",
        ),
        StreamSpec(
            name="billing_batch_files",
            path="billing/batches",
            spec_path="/billing/batches",
            cursor_field="events.created.at",
            ordering=Ordering.CURSOR_ORDERED,
            order_field="events.created.at",
            filter_field="events.created.at",
            kind="document",
        ),
        StreamSpec(
            name="media_folder_files",
            path="media/folders/{folder_type}/{folder_name}/files",
            spec_path="/media/folders/{folder_type}/{folder_name}/files",
            cursor_field="events.created.at",
            ordering=Ordering.CURSOR_ORDERED,
            order_field="events.created.at",
            filter_field="events.created.at",
            kind="document",
        ),
    )
}


def get_stream(name: str) -> StreamSpec:
    try:
        return STREAMS[name]
    except KeyError:
        raise ValueError(f"unknown Connect stream {name!r}; known: {', '.join(sorted(STREAMS))}") from None
