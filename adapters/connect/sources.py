"""Record sources: one class per Connect stream, all on the same keyset pager.

A source never decides where items go or what the next cursor is; it yields
:class:`RecordItem` (key = Connect id, cursor = the stream's time field as aware UTC)
lazily, one validated page at a time, every page fetched through the shared
:class:`~adapters.retry.Retrier`.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING, Any, Self

from connect.client import ClientError, ConnectClient, R

from adapters.connect.errors import classify_connect_error
from adapters.connect.newest import FLOOR, newest_stamp
from adapters.connect.paging import Keyed, KeysetReader, PageSize, Selection, fetch_page, get_path
from adapters.connect.query import build_query_string, rql_time, window_filter
from adapters.connect.settings import DEFAULT_PARALLEL_WINDOWS
from adapters.connect.streams import StreamSpec, get_stream
from adapters.connect.windows import ParallelWindows
from adapters.cursor import CursorError, parse_timestamp
from adapters.failures import AdapterError, Classifier, Failure, FailureClass
from adapters.protocol import Ordering
from adapters.records import RecordItem, Refetch
from adapters.retry import Retrier, RetryPolicy
from adapters.runtime import ContextLike, LoggerLike

if TYPE_CHECKING:
    from adapters.connect.settings import ConnectSettings

__all__ = [
    "BillingBatchesSource",
    "ConnectStreamSource",
    "ListingsSource",
    "RequestsSource",
    "SubscriptionAssetsSource",
    "SubscriptionRequestsSource",
    "TierAccountsSource",
    "payload_hash",
]


#: ids per ``in(id,(...))`` query when fetching quarantined records again: Connect ids are
#: about 20 characters, so a request line stays near 1 KB
REFETCH_IDS_PER_QUERY = 40

#: asked for unless configured: the largest page the spec names for any list; lists
#: that refuse it get a smaller one (see :class:`~adapters.connect.paging.PageSize`)
DEFAULT_PAGE_SIZE = 1000

#: one step past a stamp: a window ending here still holds the stamp (its end is exclusive)
_TICK = timedelta(microseconds=1)

#: Connect stamps ``updated`` when a change is made, not when it becomes visible, so a
#: record can appear with a time just before one already read; re-reading a short
#: window costs little because every sink is idempotent
DEFAULT_LOOKBACK = timedelta(minutes=2)


def _utcnow() -> datetime:
    return datetime.now(UTC)


def _date_header(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        return parsedate_to_datetime(value).astimezone(UTC)
    except (TypeError, ValueError):
        return None


def payload_hash(payload: Mapping[str, Any]) -> str:
    """A stable content hash (sorted-key JSON, sha256) for change detection on full scans."""
    text = json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()


class ConnectStreamSource:
    """Reads one declared Connect stream since a cursor value.

    ``CURSOR_ORDERED`` streams filter ``ge(cursor, since)`` and keyset-page on the cursor
    itself. ``UNORDERED`` streams filter the window ``since <= cursor < run start`` and
    keyset-page on their immutable ``order_field``, so the driver commits only at the
    end. ``FULL_SCAN`` streams ignore ``since``.

    ``exclude_fields`` names top-level fields the caller does not read: they are asked
    to be left out (``select(-field)``, after the stream's own selection), which makes
    pages smaller to send and cheaper to decode. A list that ignores the request still
    works, and one that refuses it is read whole (:class:`~adapters.connect.paging.Selection`).
    The key, cursor and order fields cannot be excluded.
    """

    def __init__(
        self,
        client: ConnectClient,
        spec: StreamSpec | str,
        *,
        retrier: Retrier | None = None,
        logger: LoggerLike | None = None,
        policy: RetryPolicy | None = None,
        page_size: int | None = None,
        path_params: Mapping[str, str] | None = None,
        extra_filter: R | None = None,
        lookback: timedelta = DEFAULT_LOOKBACK,
        now: Callable[[], datetime] | None = None,
        parallel_windows: int = DEFAULT_PARALLEL_WINDOWS,
        window_records: int | None = None,
        exclude_fields: Sequence[str] = (),
    ) -> None:
        self.client = client
        self.spec = get_stream(spec) if isinstance(spec, str) else spec
        read = (self.spec.key_field, *self.spec.order_fields, self.spec.cursor_field, self.spec.filter_field)
        needed = {name.split(".")[0] for name in read if name}
        kept = sorted(needed.intersection(exclude_fields))
        if kept:
            raise ValueError(f"{self.spec.name}: cannot exclude {kept}: the reader needs them")
        self.retrier = retrier or Retrier(
            classify_connect_error, source=f"connect.{self.spec.name}", logger=logger, policy=policy
        )
        self.logger = logger
        requested = page_size or int(getattr(client, "default_limit", 0) or 0) or DEFAULT_PAGE_SIZE
        #: shared by every list call of this source, so a refused size is asked once per run
        self.page_size = PageSize(requested, logger=logger)
        #: likewise the ``select(...)``: the stream's own, then the caller's exclusions
        self.selection = Selection(
            (*self.spec.select, *(f"-{name}" for name in exclude_fields)), logger=logger
        )
        #: the reader of the last ``iter_raw`` (request count and longest target, for reports)
        self.reader: KeysetReader | None = None
        self.path = self.spec.format_path(**dict(path_params or {}))
        self.extra_filter = extra_filter if extra_filter is not None else R()
        self._now = now
        #: read by the sync driver: subtracted from the stored cursor before the next run
        self.lookback = lookback
        if parallel_windows < 1:
            raise ValueError(f"parallel_windows must be at least 1, got {parallel_windows}")
        if window_records is not None and window_records < 1:
            raise ValueError(f"window_records must be at least 1, got {window_records}")
        self.parallel_windows = parallel_windows
        self.window_records = window_records
        #: the windowed reader of the last ``fetch_since`` on a stream that can be windowed
        self.windows: ParallelWindows | None = None
        #: the cursor is the first keyset field, so each record's value is parsed once, by the pager
        self._cursor_is_order = self.spec.cursor_field == self.spec.order_field

    @classmethod
    def for_context(
        cls, context: ContextLike, client: ConnectClient, settings: ConnectSettings, **options: Any
    ) -> Self:
        """The usual wiring: ``config.retry``, the job's logger and the ``connect_*`` settings.

        ``options`` are the subclass's own arguments (a folder, known hashes, a filter).
        """
        return cls(
            client,
            logger=context.logger,
            policy=RetryPolicy.from_context(context),
            **settings.source_options(),
            **options,
        )

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def ordering(self) -> Ordering:
        return self.spec.ordering

    @property
    def classifier(self) -> Classifier:
        return classify_connect_error

    def close(self) -> None:
        """Holds nothing: the Connect client is the caller's, shared with other sources."""

    def window_end(self, since: datetime | None = None) -> datetime:
        """Where an ``UNORDERED`` run's window closes: the *server's* time at the start.

        Records updated after that are left to the next run, whose lower bound (the
        greatest cursor read now) lies before it. The server's time comes from the
        ``Date`` header of a ``limit=0`` probe (``limit=1`` when 0 is refused), so a
        skewed host clock cannot open a gap; an injected ``now`` wins (tests,
        cassettes). Without a ``Date`` header (HTTP requires one from servers with a
        clock, so this is unconfirmed rather than expected) the window closes just after
        the newest stamp at or after ``since`` that Connect holds
        (:mod:`adapters.connect.newest`): a time the server confirms it has reached,
        whatever the host clock says. A warning names the fallback.
        """
        if self._now is not None:
            return self._now()

        def probe(limit: int) -> datetime | None:
            fetch_page(self.client, self.path, "", limit=limit, offset=0)
            response = self.client.response
            return _date_header(response.headers.get("Date") if response is not None else None)

        def attempt() -> datetime | None:
            try:
                return probe(0)
            except ClientError as exc:
                if exc.status_code != 400:
                    raise
                return probe(1)  # a server that refuses limit=0 still dates a one-record page

        server_now = self.retrier.call(attempt, step=f"connect.{self.spec.name}.server_time")
        if server_now is not None:
            return server_now
        field = self.spec.filter_field or self.spec.cursor_field
        newest = newest_stamp(self._records_from, field, since=since, guess=_utcnow())
        end = newest + _TICK if newest is not None else (since or FLOOR)
        if self.logger is not None:
            self.logger.warn(
                f"Connect sent no Date header; the {self.spec.name} window closes at "
                f"{end.isoformat()}, just after the newest {field} Connect holds",
                step=f"connect.{self.spec.name}.server_time",
                detail={"window_end": end.isoformat()},
            )
        return end

    def _records_from(self, at: datetime, limit: int) -> list[dict[str, Any]]:
        """Up to ``limit`` records of the collection whose filter field is at or after ``at``."""
        field = self.spec.filter_field or self.spec.cursor_field
        query = build_query_string(R().n(field).ge(rql_time(at)))
        page = self.retrier.call(
            lambda: fetch_page(self.client, self.path, query, limit=limit, offset=0),
            step=f"connect.{self.spec.name}.server_time",
        )
        return list(page.items)

    def base_filter(self, cursor: datetime | None) -> R:
        """The filter for a run starting at ``cursor`` (exposed so tests can check it)."""
        spec = self.spec
        query = R() & self.extra_filter
        if spec.filter_field is None or spec.ordering is Ordering.FULL_SCAN:
            return query
        if spec.ordering is Ordering.UNORDERED:
            return query & window_filter(spec.filter_field, cursor, self.window_end(cursor))
        return query & window_filter(spec.filter_field, cursor)

    def iter_raw(self, cursor: datetime | None) -> Iterator[dict[str, Any]]:
        """The stream's records as Connect returned them, keyset paged (ties of any size)."""
        for page in self.iter_keyed_pages(cursor):
            for record, _ in page:
                yield record

    @property
    def windowable(self) -> bool:
        """Whether a backlog can be read as time windows: a record stream ordered and
        filtered by its cursor, so each window is an ordinary bounded keyset walk.

        Document streams are read as one walk: each item opens nested lists and
        downloads of its own, and their lists are few (monthly batches)."""
        spec = self.spec
        return (
            spec.kind == "record"
            and spec.ordering is Ordering.CURSOR_ORDERED
            and spec.filter_field == spec.order_field
        )

    def iter_keyed_pages(self, cursor: datetime | None) -> Iterator[Sequence[Keyed]]:
        """Pages of ``(record, first keyset value)`` pairs, in parallel windows when the stream allows."""
        base = self.base_filter(cursor)
        if not self.windowable or self.parallel_windows == 1:
            self.reader = self._reader(step="page")
            return self.reader.keyed_pages(base)
        self.windows = ParallelWindows(
            lambda: self._reader(step="page"),
            workers=self.parallel_windows,
            per_window=self.window_records,
            logger=self.logger,
        )
        return self.windows.keyed_pages(base)

    def settled_cursor(self) -> datetime | None:
        """Below this cursor the current fetch has yielded everything it will (finished windows)."""
        return self.windows.settled_cursor() if self.windows is not None else None

    @property
    def requests(self) -> int:
        """List requests of the last fetch (every window's), for reports and benchmarks."""
        if self.windows is not None:
            return self.windows.requests
        return self.reader.requests if self.reader is not None else 0

    def _reader(self, *, step: str) -> KeysetReader:
        return KeysetReader(
            self.client,
            self.retrier,
            self.path,
            order_fields=self.spec.order_fields,
            page_size=self.page_size,
            step=f"connect.{self.spec.name}.{step}",
            select=self.selection,
            key_field=self.spec.key_field,
        )

    def invalid(self, message: str) -> AdapterError:
        """A bad record ends the run as a classified ``invalid`` failure naming the record."""
        return AdapterError(f"connect.{self.spec.name}", Failure(FailureClass.INVALID, message))

    def to_item(self, record: dict[str, Any], parsed: datetime | None = None) -> RecordItem:
        """The record as an item; ``parsed`` is its cursor value when the pager parsed it already."""
        key = record.get(self.spec.key_field)
        if not key:
            raise self.invalid(f"record without {self.spec.key_field!r}")
        if parsed is not None:  # positional, and no str() of a str: this runs once per record
            return RecordItem(key if type(key) is str else str(key), parsed, record, self.spec.name)
        raw = get_path(record, self.spec.cursor_field)
        cursor: datetime | None = None
        if raw is not None:
            try:
                cursor = parse_timestamp(raw)
            except CursorError as exc:
                raise self.invalid(f"record {key!r} field {self.spec.cursor_field!r}: {exc}") from None
        elif self.spec.ordering is not Ordering.FULL_SCAN:
            raise self.invalid(f"record {key!r} has no {self.spec.cursor_field!r} value")
        return RecordItem(key=str(key), cursor=cursor, payload=record, stream=self.spec.name)

    def fetch_pages_since(self, cursor: datetime | None) -> Iterator[Sequence[RecordItem]]:
        """The items of :meth:`fetch_since`, one list per page read (see :class:`adapters.protocol.Paged`).

        A subclass that yields something else from ``fetch_since`` (documents, a
        filtered scan, items of its own) is read through it, one item a page, so
        overriding ``fetch_since`` is enough; ``to_item`` builds every item.
        """
        if type(self).fetch_since is not ConnectStreamSource.fetch_since:
            for item in self.fetch_since(cursor):
                yield (item,)
            return
        yield from self._pages(cursor)

    def fetch_since(self, cursor: datetime | None) -> Iterator[RecordItem]:
        for page in self._pages(cursor):
            yield from page

    def _pages(self, cursor: datetime | None) -> Iterator[Sequence[RecordItem]]:
        """The stream's items a page at a time; a bad record ends it after the records before it."""
        if not self._cursor_is_order:
            for record in self.iter_raw(cursor):
                yield (self.to_item(record),)
            return
        to_item = self.to_item
        for page in self.iter_keyed_pages(cursor):
            items: list[RecordItem] = []
            append = items.append
            failed: Exception | None = None
            try:
                for record, value in page:
                    append(to_item(record, value))
            except Exception as exc:  # the records before it still go to the sinks first
                failed = exc
            if items:
                yield items
            if failed is not None:
                raise failed

    def iter_by_keys(self, keys: Sequence[str]) -> Iterator[dict[str, Any]]:
        """The records with these ids as they are now, whatever their time (``in(id,(...))``)."""
        unique = list(dict.fromkeys(keys))
        for start in range(0, len(unique), REFETCH_IDS_PER_QUERY):
            chunk = unique[start : start + REFETCH_IDS_PER_QUERY]
            yield from self._reader(step="refetch").records(
                R().n(self.spec.key_field).oneof(chunk) & self.extra_filter
            )

    def refetch(self, wanted: Sequence[Refetch]) -> Iterator[RecordItem]:
        """Quarantined records again by id (see :class:`adapters.protocol.Refetchable`)."""
        for record in self.iter_by_keys([w.key for w in wanted]):
            yield self.to_item(record)


class ListingsSource(ConnectStreamSource):
    """``/listings`` by ``updated`` (keyset, cursor ordered)."""

    def __init__(self, client: ConnectClient, **kwargs: Any) -> None:
        super().__init__(client, "listings", **kwargs)


class RequestsSource(ConnectStreamSource):
    """``/requests`` (fulfillment requests) by ``updated`` (keyset, cursor ordered)."""

    def __init__(self, client: ConnectClient, **kwargs: Any) -> None:
        super().__init__(client, "requests", **kwargs)


class SubscriptionAssetsSource(ConnectStreamSource):
    """``/subscriptions/assets`` by ``events.updated.at`` (window, keyset on creation time)."""

    def __init__(self, client: ConnectClient, **kwargs: Any) -> None:
        super().__init__(client, "subscription_assets", **kwargs)


class SubscriptionRequestsSource(ConnectStreamSource):
    """``/subscriptions/requests`` by ``events.updated.at`` (window, keyset on creation time)."""

    def __init__(self, client: ConnectClient, **kwargs: Any) -> None:
        super().__init__(client, "subscription_requests", **kwargs)


class BillingBatchesSource(ConnectStreamSource):
    """``/billing/batches`` by ``events.created.at`` (keyset, cursor ordered)."""

    def __init__(self, client: ConnectClient, **kwargs: Any) -> None:
        super().__init__(client, "billing_batches", **kwargs)


class TierAccountsSource(ConnectStreamSource):
    """``/tier/accounts``: no update filter exists, so every run scans everything.

    ``known_hashes`` (key -> :func:`payload_hash` of what was stored last time, kept by
    the caller) lets the scan skip accounts that did not change; without it every
    account is yielded. ``seen_hashes`` collects the hashes of this run for the caller
    to store once the run has succeeded.
    """

    def __init__(
        self,
        client: ConnectClient,
        *,
        known_hashes: Mapping[str, str] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(client, "tier_accounts", **kwargs)
        self.known_hashes = known_hashes or {}
        self.seen_hashes: dict[str, str] = {}

    def fetch_since(self, cursor: datetime | None) -> Iterator[RecordItem]:
        for record in self.iter_raw(None):
            item = self.to_item(record)
            digest = payload_hash(record)
            self.seen_hashes[item.key] = digest
            if self.known_hashes.get(item.key) == digest:
                continue
            yield item
