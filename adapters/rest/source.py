"""A source for any REST listing: a declared :class:`RestStream` read through the shared policy.

Every page goes through the one :class:`~adapters.retry.Retrier` (statuses classified by
the shared table plus the stream's overrides, ``Retry-After`` honoured). The page loop
owns the stop rule for every paging style (see :mod:`adapters.rest.paging`), checks
that the server keeps the paging promises the stream declares, and turns records into
:class:`~adapters.records.RecordItem` (key and cursor from the declared fields).

Position paging (page number, offset, server tokens) cannot be trusted over a list that
changes while it is read, so such a listing is read in *passes*:

* a key seen twice in one pass means the list shifted under the pages, and a record may
  have slid over a page boundary unseen: the pass is read again (records already
  delivered in the same version are not yielded twice), up to ``max_passes``;
* a record whose cursor is at or after the pass's start (the server's ``Date``) changed
  while we read, so other changes of that moment may have been missed: it is delivered
  with its cursor held at the pass start, so the watermark cannot pass them and the next
  run reads them.

Keyset streams need neither: a record that moves lands later in the order and is read
when the loop gets there. The price of passes is memory: one key (and cursor) per record
read in the run, which for a delta run is small.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any

import httpx

from adapters.cursor import CursorError, parse_timestamp
from adapters.http_status import DEFAULT_STATUS_TABLE
from adapters.protocol import Ordering
from adapters.records import RecordItem
from adapters.rest.errors import RestPageError, RestRecordError, UnstableListing, make_rest_classifier
from adapters.rest.fields import MISSING, get_path
from adapters.rest.paging import Page, PageRequest, format_query_time
from adapters.rest.stream import RestStream
from adapters.retry import Retrier
from adapters.runtime import ContextLike, LoggerLike

__all__ = ["RestSource"]

#: empty pages in a row, while the server keeps announcing more, before the loop ends anyway
MAX_EMPTY_PAGES = 10


def _utcnow() -> datetime:
    return datetime.now(UTC)


class RestSource:
    """Reads one :class:`RestStream` since a cursor value (``fetch_since``), lazily, page by page."""

    def __init__(
        self,
        stream: RestStream,
        client: httpx.Client,
        retrier: Retrier,
        *,
        logger: LoggerLike | None = None,
        now: Callable[[], datetime] = _utcnow,
    ) -> None:
        self.stream = stream
        self.client = client
        self.retrier = retrier
        self.logger = logger
        self._now = now
        #: read by the sync driver: subtracted from the stored cursor before the next run
        self.lookback: timedelta = stream.lookback
        self.pages_read = 0
        self.passes_read = 0

    @classmethod
    def for_context(cls, context: ContextLike, stream: RestStream, *, base_url: str) -> RestSource:
        """The usual wiring: secrets from the context, ``config.retry``, the job's logger.

        Bad retry settings and missing secrets are refused here, before any call.
        """
        classifier = make_rest_classifier(
            stream.name, DEFAULT_STATUS_TABLE.with_overrides(stream.status_overrides), stream.auth.hint
        )
        retrier = Retrier.for_context(context, classifier, source=stream.name)
        auth = stream.auth.build(context)
        client = httpx.Client(
            base_url=base_url, auth=auth, timeout=stream.timeout, headers={"Accept": "application/json"}
        )
        return cls(stream, client, retrier, logger=context.logger)

    # -- the Source protocol ------------------------------------------------------------------

    @property
    def name(self) -> str:
        return self.stream.name

    @property
    def ordering(self) -> Ordering:
        return self.stream.ordering

    def fetch_since(self, cursor: datetime | None) -> Iterator[RecordItem]:
        if self.stream.paginator.walks_cursor:
            return self._keyset(cursor)
        return self._passes(cursor)

    def close(self) -> None:
        self.client.close()

    def __enter__(self) -> RestSource:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- reading ------------------------------------------------------------------------------

    def _keyset(self, since: datetime | None) -> Iterator[RecordItem]:
        tie_cursor: datetime | None = None
        tie_keys: set[str] = set()
        fresh = [0]  # records delivered from the page last read (read back by the page loop)
        for page in self._pages(since, brought_nothing=lambda: fresh[0] == 0):
            fresh[0] = 0
            previous: datetime | None = None
            for item in page.items:
                assert item.cursor is not None  # keyset streams require a cursor field
                if previous is not None and item.cursor < previous:
                    raise RestPageError(
                        f"{self.name}: keyset page is not ordered by {self.stream.cursor_field!r} "
                        f"({item.key!r} at {item.cursor.isoformat()} follows {previous.isoformat()}); "
                        "the stream assumes the API sorts by it ascending"
                    )
                previous = item.cursor
                if since is not None and item.cursor < since:
                    continue
                if tie_cursor is not None and (
                    item.cursor < tie_cursor or (item.cursor == tie_cursor and item.key in tie_keys)
                ):
                    continue  # re-read below the bound (slack): already delivered
                if tie_cursor is None or item.cursor > tie_cursor:
                    tie_cursor, tie_keys = item.cursor, set()
                tie_keys.add(item.key)
                fresh[0] += 1
                yield item

    def _passes(self, since: datetime | None) -> Iterator[RecordItem]:
        delivered: dict[str, datetime | None] = {}
        for number in range(1, self.stream.max_passes + 1):
            self.passes_read += 1
            keys: set[str] = set()
            repeated: str | None = None
            start: datetime | None = None
            for page in self._pages(since):
                if start is None:
                    start = self._server_time(page.headers)
                    if since is not None:
                        start = max(start, since)
                for item in page.items:
                    if item.key in keys:
                        repeated = repeated or item.key
                    keys.add(item.key)
                    if since is not None and item.cursor is not None and item.cursor < since:
                        continue  # sent slack earlier than the bound, or the API ignores the filter
                    if delivered.get(item.key, MISSING) == item.cursor:
                        continue
                    delivered[item.key] = item.cursor
                    if item.cursor is not None and item.cursor > start:
                        item = dataclasses.replace(item, cursor=start)
                    yield item
            if repeated is None:
                return
            if self.logger is not None:
                self.logger.warn(
                    f"{self.name}: the listing shifted while it was read ({repeated!r} seen twice in "
                    f"pass {number}); reading it again so nothing slides past a page boundary",
                    step=f"{self.name}.pass",
                    detail={"pass": number, "repeated_key": repeated, "max_passes": self.stream.max_passes},
                )
        raise UnstableListing(
            f"{self.name}: the listing shifted during each of {self.stream.max_passes} passes (position "
            "paging over a list that changes while it is read), so a record may have been skipped; "
            "the run stops with the cursor unchanged and the next run reads the window again"
        )

    def _pages(
        self, since: datetime | None, brought_nothing: Callable[[], bool] = lambda: False
    ) -> Iterator[Page]:
        """Pages of one pass; ``brought_nothing`` tells whether the page just read held only
        records already delivered (keyset re-reads its bound, so that can be the end)."""
        paginator = self.stream.paginator
        request = paginator.first(since)
        previous_keys: list[str] | None = None
        empty_in_a_row = 0
        while True:
            page = self._fetch(request, since)
            yield page
            keys = [item.key for item in page.items]
            following = paginator.following(page)
            if following is None:
                return
            if paginator.walks_cursor and following == request and brought_nothing():
                return  # the bound cannot move and nothing new is at it: the end
            if keys and keys == previous_keys and not paginator.walks_cursor:
                raise RestPageError(
                    f"{self.name}: page {self._describe(request)} holds the same records as the one "
                    "before it; the API seems to ignore the paging parameters"
                )
            previous_keys = keys
            if following == request:
                raise RestPageError(
                    f"{self.name}: paging made no progress: the next request repeats "
                    f"{self._describe(request)}; with keyset paging and no key parameter, more "
                    "records share one cursor value than a page holds (raise the page size, "
                    "or declare the API's key parameter)"
                )
            done = paginator.says_done(page)
            if not page.items:
                if done is not False:
                    return  # an empty page the server does not contradict
                empty_in_a_row += 1
                if empty_in_a_row >= MAX_EMPTY_PAGES:
                    if self.logger is not None:
                        self.logger.warn(
                            f"{self.name}: {empty_in_a_row} empty pages in a row although the server "
                            "announces more; ending the listing",
                            step=f"{self.name}.page",
                            detail={"request": self._describe(request)},
                        )
                    return
            else:
                empty_in_a_row = 0
            request = following

    def _fetch(self, request: PageRequest, since: datetime | None) -> Page:
        params = {**self._filter(since), **request.params}

        def call() -> httpx.Response:
            if request.url is not None:
                response = self.client.get(request.url)  # the server's own link carries its query
            else:
                response = self.client.get(self.stream.path, params=params)
            response.raise_for_status()
            return response

        response = self.retrier.call(call, step=f"{self.name}.page")
        self.pages_read += 1
        try:
            body = response.json()
        except ValueError:
            raise RestPageError(
                f"{self.name}: HTTP {response.status_code} on page {self._describe(request)} "
                f"is not valid JSON ({response.headers.get('content-type', 'no content type')})"
            ) from None
        records = get_path(body, self.stream.records_path)
        if not isinstance(records, list):
            where = repr(self.stream.records_path) if self.stream.records_path else "the body"
            found = "nothing" if records is MISSING else type(records).__name__
            raise RestPageError(
                f"{self.name}: expected a list of records at {where} of page {self._describe(request)}, "
                f"found {found}"
            )
        items = [self._to_item(record, position, request) for position, record in enumerate(records)]
        return Page(request, items, body, response.headers, base_url=str(self.client.base_url))

    def _filter(self, since: datetime | None) -> Mapping[str, str]:
        params = dict(self.stream.params)
        if self.stream.since_param and since is not None:
            params[self.stream.since_param] = format_query_time(since - self.stream.since_slack)
        return params

    def _to_item(self, record: Any, position: int, request: PageRequest) -> RecordItem:
        where = f"record #{position} of page {self._describe(request)}"
        if not isinstance(record, Mapping):
            raise RestRecordError(f"{self.name}: {where} is not an object: {record!r:.80}")
        key = get_path(record, self.stream.key_field)
        if key is MISSING or key is None or key == "":
            raise RestRecordError(f"{self.name}: {where} has no {self.stream.key_field!r}")
        cursor: datetime | None = None
        if self.stream.cursor_field:
            raw = get_path(record, self.stream.cursor_field)
            if raw is MISSING or raw is None:
                raise RestRecordError(f"{self.name}: record {key!r} has no {self.stream.cursor_field!r}")
            try:
                cursor = parse_timestamp(raw)
            except CursorError as exc:
                raise RestRecordError(
                    f"{self.name}: record {key!r} field {self.stream.cursor_field!r}: {exc}"
                ) from None
        return RecordItem(key=str(key), cursor=cursor, payload=record, stream=self.name)

    def _server_time(self, headers: httpx.Headers) -> datetime:
        """The server's clock (``Date``) at a pass's first page; our own only when it sends none."""
        header = headers.get("date")
        if header:
            try:
                return parsedate_to_datetime(header).astimezone(UTC)
            except (TypeError, ValueError):
                pass
        return self._now()

    @staticmethod
    def _describe(request: PageRequest) -> str:
        if request.url is not None:
            return httpx.URL(request.url).path
        return "&".join(f"{k}={v}" for k, v in sorted(request.params.items())) or "(first)"
