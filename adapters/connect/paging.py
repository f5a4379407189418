"""Connect list pages: one validated GET at a time, keyset paging with ties of any size.

``ResourceSet`` iteration advances ``offset`` by the *requested* limit; a server that
caps its page size makes it skip records silently. So pages are fetched one call at a
time here, always at ``offset=0`` with a keyset filter (or, for small nested lists,
at an offset advanced by what actually arrived), every page is checked against its
``Content-Range``, and where a list ends is decided by :func:`adapters.paging.iter_pages`
(an empty page, never a short page or a total alone).

Keyset paging (:class:`KeysetReader`) walks ``order_fields`` in turn: the stream's
cursor field, then optionally an immutable tie-breaker such as ``created``. Records at
the last value of a page are stepped over with ``out(id,(...))`` while that list fits
:data:`~adapters.connect.ties.TIE_ID_BUDGET`; a bigger tie group is read on its own,
by the next order field or, at the last one, split by id prefix
(:mod:`adapters.connect.ties`), and the walk then resumes strictly after the value.
No request target grows with the size of a tie group.

Each record's order value is parsed once, where the page order is checked, and handed
on with the record (:meth:`KeysetReader.keyed`), so a source whose cursor *is* the
first order field never parses it again. A walk may be bounded above (``until``):
it then ends on the first page that reaches the bound, without asking the empty
page a list end needs: records at or past the bound, in order, prove nothing before
it is left. That is what lets :mod:`adapters.connect.windows` read a backlog as
adjacent windows that each cost about one request.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from connect.client import ClientError, ConnectClient, R

from adapters.connect.errors import ConnectPageError
from adapters.connect.query import KeysetPosition, build_query_string, keyset_filter, rql_time
from adapters.connect.ties import TIE_ID_BUDGET, IdRange, fits_budget, unsafe_id
from adapters.cursor import CursorError, parse_timestamp
from adapters.failures import AdapterError, Failure, FailureClass
from adapters.paging import Page, PagingError, iter_pages
from adapters.retry import Retrier
from adapters.runtime import LoggerLike

__all__ = [
    "MAX_TARGET_BYTES",
    "ContentRange",
    "Keyed",
    "KeysetReader",
    "PageSize",
    "Selection",
    "fetch_page",
    "get_path",
    "parse_content_range",
    "parse_order_value",
]

_RANGE = re.compile(r"^\s*items\s+(\d+)-(-?\d+)/(\d+|\*)\s*$")

#: empty answers in a row a walk bounded above accepts before refusing: the list is known
#: to go on past the bound, so an empty page there is a transient fault, asked again
BOUNDED_EMPTY_RECHECKS = 8

#: a record and its parsed first order value (the order the walk yields records in)
Keyed = tuple[dict[str, Any], datetime]

#: longest request target (path + query) the adapter sends; common proxy limits are 4-8 KB
MAX_TARGET_BYTES = 4096


@dataclass(frozen=True, slots=True)
class ContentRange:
    first: int
    last: int
    count: int | None  # None when the server sent ``*``


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


def parse_order_value(raw: Any) -> datetime:
    """A time value as aware UTC, the way :func:`~adapters.cursor.parse_timestamp` reads it.

    Connect sends UTC ISO timestamps; those are taken straight from ``fromisoformat``
    (about a microsecond), which is what this runs for on every record of a page.
    Anything else (other offsets, zone-less or odd forms) goes through
    ``parse_timestamp``, so the result is always the same as its.
    """
    if type(raw) is str:
        try:
            value = datetime.fromisoformat(raw)
        except ValueError:
            return parse_timestamp(raw)
        if value.tzinfo is UTC:
            return value
    return parse_timestamp(raw)


def fetch_page(
    client: ConnectClient, path: str, query_string: str, *, limit: int, offset: int
) -> Page[dict[str, Any]]:
    """One GET of a list endpoint, validated against the request and ``Content-Range``.

    The page's ``total`` is the ``Content-Range`` count: a claim that
    :func:`~adapters.paging.iter_pages` weighs, never a reason to stop by itself.
    """
    url = f"{path}?{query_string}" if query_string else path
    if len(url) + 40 > MAX_TARGET_BYTES:  # 40: room for limit/offset and the API prefix
        raise ConnectPageError(f"GET {path}: request target of {len(url)} characters is too long")
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
    total = content_range.count if content_range is not None else None
    return Page(items, total=total, start=offset)


def _key_page(
    items: Sequence[dict[str, Any]], field: str, parse: Callable[[dict[str, Any], str], datetime]
) -> list[Keyed]:
    """Each record with its ``field`` value: :func:`parse_order_value`'s fast path written out.

    It runs once per record of every page, so the usual form (a UTC ISO text) is parsed
    here without a call; anything else goes to ``parse``, which gives the same answer
    :func:`parse_order_value` would, or names the record that has none.
    """
    keyed: list[Keyed] = []
    append = keyed.append
    for item in items:
        raw = item.get(field)
        if type(raw) is str:
            try:
                parsed: datetime | None = datetime.fromisoformat(raw)
            except ValueError:
                parsed = None
            if parsed is not None and parsed.tzinfo is UTC:
                append((item, parsed))
                continue
        append((item, parse(item, field)))
    return keyed


class PageSize:
    """The page size a source asks for, lowered for the rest of the run if refused.

    The spec names no maximum for some lists (``/listings``); 1000 is asked first and,
    when the server answers 400 to it, halved (never below ``floor``) and asked again.
    A server that silently caps pages needs nothing here: a short page only costs a
    request. The first refusal is logged, so an operator sees the server's limit.
    """

    def __init__(self, value: int, *, floor: int = 100, logger: LoggerLike | None = None) -> None:
        self.value = value
        self.floor = min(floor, value)
        self.logger = logger

    def call(self, fetch: Callable[[int], Page[dict[str, Any]]], *, step: str) -> Page[dict[str, Any]]:
        """``fetch(limit)``, retried with a smaller limit for as long as a 400 answers it."""
        while True:
            try:
                return fetch(self.value)
            except ClientError as exc:
                if exc.status_code != 400 or self.value <= self.floor:
                    raise
                refused = self.value
                self.value = max(self.floor, self.value // 2)
                if self.logger is not None:
                    self.logger.warn(
                        f"Connect refused limit={refused} (HTTP 400); asking {self.value} from now on",
                        step=step,
                        detail={"refused_limit": refused, "limit": self.value},
                    )


class Selection:
    """The ``select(...)`` a source sends, dropped for the rest of the run if refused.

    Connect's RQL ``select(-field)`` leaves a field out of each record; the spec names it
    for a few lists (``/requests``: ``-activation_key``, ``-template``) and for no other,
    so whether a list honours, ignores or refuses it is an unconfirmed assumption. A
    list that honours it sends less, which is most of a page's decoding cost; one that
    ignores it costs nothing here. A 400 to a request with a selection is asked once
    more without it: if that is answered, the selection was refused and is not sent
    again (logged once, so an operator sees it); a 400 to both is the request's own
    (a refused limit costs one request more while a selection is still sent), and any
    other failure of the second ask is raised as itself, for the retrier.
    """

    def __init__(self, fields: Sequence[str] = (), *, logger: LoggerLike | None = None) -> None:
        self.fields = tuple(fields)
        self.logger = logger

    def call(
        self, fetch: Callable[[Sequence[str]], Page[dict[str, Any]]], *, path: str, step: str
    ) -> Page[dict[str, Any]]:
        """``fetch(fields)``; without the fields, for good, when only that is answered."""
        fields = self.fields
        try:
            return fetch(fields)
        except ClientError as exc:
            if exc.status_code != 400 or not fields:
                raise
            try:
                page = fetch(())
            except ClientError as again:
                if again.status_code == 400:
                    raise exc from None  # refused either way: the request's own 400 (a limit, say)
                raise  # a transient failure of the second ask is the retrier's to handle
        if self.fields:
            self.fields = ()
            if self.logger is not None:
                self.logger.warn(
                    f"Connect refused select({','.join(fields)}) on {path} (HTTP 400); "
                    "reading whole records from now on",
                    step=step,
                    detail={"refused_select": list(fields)},
                )
        return page


class KeysetReader:
    """Every record of one Connect list that matches a filter, keyset paged.

    ``order_fields[0]`` is the order the records come out in (non-decreasing); later
    fields break ties of the one before and must be immutable. Each request is sent at
    ``offset=0``, so a capped page only means more requests, and a record that moves
    (its order value grows) is met again later instead of shifting others past an
    offset. Records may be yielded twice (at a tie's edge or after moving); never zero
    times.
    """

    def __init__(
        self,
        client: ConnectClient,
        retrier: Retrier,
        path: str,
        *,
        order_fields: Sequence[str],
        page_size: PageSize,
        step: str,
        select: Selection | Sequence[str] = (),
        key_field: str = "id",
        tie_budget: int = TIE_ID_BUDGET,
    ) -> None:
        if not order_fields:
            raise ValueError("keyset paging needs at least one order field")
        self.client = client
        self.retrier = retrier
        self.path = path
        self.order_fields = tuple(order_fields)
        self.page_size = page_size
        self.step = step
        #: shared by every list call of a source (like ``page_size``), so a refusal is met once
        self.selection = select if isinstance(select, Selection) else Selection(select)
        self.key_field = key_field
        #: characters an ``out(id,(...))`` list may take before a tie group is read on its own
        self.tie_budget = tie_budget
        #: requests sent, and the longest request target, for callers that report them
        self.requests = 0
        self.longest_target = 0

    def records(self, base: R) -> Iterator[dict[str, Any]]:
        """The records, page by page; a page that breaks the rules ends the run as ``invalid``."""
        for record, _ in self.keyed(base):
            yield record

    def keyed(
        self, base: R, *, start: KeysetPosition | None = None, until: datetime | None = None
    ) -> Iterator[Keyed]:
        """``(record, first order value)`` pairs from ``start`` on, below ``until`` if given.

        With ``until`` the walk stops at the first page holding a value at or past it
        (such records are dropped: they belong to whoever reads from ``until`` on). A
        list that ends before the bound ends the usual way, on a confirmed empty page.
        """
        for page in self.keyed_pages(base, start=start, until=until):
            yield from page

    def keyed_pages(
        self, base: R, *, start: KeysetPosition | None = None, until: datetime | None = None
    ) -> Iterator[Sequence[Keyed]]:
        """:meth:`keyed` a page at a time (what a window's reader thread queues, with no per-record step)."""
        try:
            yield from self._walk(base, 0, start=start, until=until)
        except (ConnectPageError, PagingError) as exc:
            raise AdapterError(self.retrier.source, Failure(FailureClass.INVALID, str(exc))) from exc

    def first_page(self, base: R) -> tuple[Page[Keyed], KeysetPosition | None]:
        """One page from the start of ``base``, checked and keyed, and the position after it.

        The position is None when the page is empty or its last tie group is too large
        for an ``out(...)`` list (a caller then reads the list with :meth:`keyed`).
        """
        try:
            page = self._keyed_page(base & keyset_filter(self.order_fields[0], None, self.key_field), 0, None)
            if not page.items:
                return page, None
            following = self._after(None, page.items)
        except (ConnectPageError, PagingError) as exc:
            raise AdapterError(self.retrier.source, Failure(FailureClass.INVALID, str(exc))) from exc
        return page, following if fits_budget(following.tie_ids, self.tie_budget) else None

    # -- one GET -------------------------------------------------------------------------

    def _get(self, query: R, ordering: tuple[str, ...]) -> Page[dict[str, Any]]:
        def fetch(select: Sequence[str], limit: int) -> Page[dict[str, Any]]:
            qs = build_query_string(query, ordering=ordering, select=select)
            self.longest_target = max(self.longest_target, len(self.path) + len(qs) + 1)
            self.requests += 1  # every request sent, a refused limit's or selection's included
            return fetch_page(self.client, self.path, qs, limit=limit, offset=0)

        def attempt() -> Page[dict[str, Any]]:
            return self.page_size.call(
                lambda limit: self.selection.call(
                    lambda select: fetch(select, limit), path=self.path, step=self.step
                ),
                step=self.step,
            )

        # validation runs inside the retrier so a bad page ends the run as a classified
        # ``invalid`` failure (AdapterError), like any other non-retryable answer
        return self.retrier.call(attempt, step=self.step)

    def _keyed_page(self, query: R, depth: int, value: datetime | None) -> Page[Keyed]:
        """A page ordered by ``order_fields[depth]``, each record paired with its first order value.

        At depth 0 the value is parsed from the record; deeper walks and id partitions
        read one tie group, whose records all share ``value``.
        """
        if depth == 0:
            page = self._get(query, (self.order_fields[0],))
            field = self.order_fields[0]
            if "." in field:
                keyed = [(item, self._order_value(item, field)) for item in page.items]
            else:
                keyed = _key_page(page.items, field, self._order_value)
        else:
            assert value is not None
            ordering = (self.order_fields[depth],) if depth < len(self.order_fields) else ()
            page = self._get(query, ordering)
            keyed = [(item, value) for item in page.items]  # the deeper order is checked in _after
        return Page(keyed, total=page.total, start=page.start)

    # -- ordered walk on one field ---------------------------------------------------------

    def _walk(
        self,
        base: R,
        depth: int,
        *,
        start: KeysetPosition | None = None,
        until: datetime | None = None,
        value: datetime | None = None,
    ) -> Iterator[Sequence[Keyed]]:
        field = self.order_fields[depth]
        position: KeysetPosition | None = start
        while True:
            overflow: list[KeysetPosition] = []
            reached: list[bool] = []

            def fetch(at: KeysetPosition | None, field: str = field) -> Page[Keyed]:
                return self._keyed_page(base & keyset_filter(field, at, self.key_field), depth, value)

            def advance(
                at: KeysetPosition | None,
                page: Page[Keyed],
                overflow: list[KeysetPosition] = overflow,
                reached: list[bool] = reached,
            ) -> KeysetPosition | None:
                if reached:
                    return None
                following = self._after(at, page.items, depth)
                if not fits_budget(following.tie_ids, self.tie_budget):
                    overflow.append(following)
                    return None
                return following

            rechecks = 1 if until is None else BOUNDED_EMPTY_RECHECKS
            pages = iter_pages(fetch, position, advance, recheck_empty=rechecks, describe=f"GET {self.path}")
            for page in pages:
                items = page.items
                if until is not None and items[-1][1] >= until:
                    reached.append(True)
                    items = [pair for pair in items if pair[1] < until]
                    if depth == 0:
                        self._after(position, page.items, depth)  # the order check still applies
                if items:
                    yield items
            if until is not None and not reached and not overflow:
                raise PagingError(
                    f"GET {self.path}: a walk bounded at {rql_time(until)} met {rechecks + 1} empty pages "
                    "in a row, although records at or after the bound exist; refusing rather than "
                    "leaving a hole before it"
                )
            if not overflow:
                return
            tie = overflow[0]
            tie_value = tie.value if depth == 0 else value
            group = base & R().n(field).eq(rql_time(tie.value))
            if depth + 1 < len(self.order_fields):
                yield from self._walk(group, depth + 1, value=tie_value)
            else:
                yield from self._partition(group, tie.tie_ids, tie_value, depth + 1)
            position = KeysetPosition(tie.value, frozenset())  # strictly after the tie value

    def _after(
        self, position: KeysetPosition | None, items: Sequence[Keyed], depth: int = 0
    ) -> KeysetPosition:
        """The position after a page, checking the page is ordered from ``position`` on."""
        field = self.order_fields[depth]
        previous = position.value if position is not None else None
        if depth == 0:
            values = [value for _, value in items]
        else:
            values = [self._order_value(item, field) for item, _ in items]
        for (item, _), value in zip(items, values, strict=True):
            if previous is not None and value < previous:
                raise ConnectPageError(
                    f"GET {self.path}: records not ordered by {field!r} "
                    f"(record {item.get(self.key_field)!r} at {value.isoformat()} "
                    f"after {previous.isoformat()})"
                )
            previous = value
        last = values[-1]
        key = self.key_field
        ties = {str(item.get(key)) for (item, _), v in zip(items, values, strict=True) if v == last}
        if position is not None and position.value == last:
            ties |= position.tie_ids
        return KeysetPosition(last, frozenset(ties))

    def _order_value(self, item: Mapping[str, Any], field: str) -> datetime:
        raw = item.get(field) if "." not in field else get_path(item, field)
        try:
            if raw is None:
                raise CursorError("missing")
            return parse_order_value(raw)
        except CursorError:
            raise ConnectPageError(
                f"GET {self.path}: record {item.get(self.key_field)!r} "
                f"has no usable {field!r} value ({raw!r})"
            ) from None

    # -- a tie group split by id prefix ------------------------------------------------------

    def _partition(
        self, group: R, known: frozenset[str], value: datetime | None, depth: int
    ) -> Iterator[Sequence[Keyed]]:
        """Every record of ``group`` (one order value), read in id ranges of bounded size."""
        pending: list[tuple[IdRange, frozenset[str]]] = [(IdRange(), known)]
        while pending:
            part, seen = pending.pop()
            if not fits_budget(seen, self.tie_budget):
                self._check_splittable(seen)
                pending.extend(part.split(seen))
                continue
            grown: list[frozenset[str]] = []

            def fetch(ids: frozenset[str], part: IdRange = part) -> Page[Keyed]:
                query = group & part.rql(self.key_field)
                if ids:
                    query &= R().n(self.key_field).out(sorted(ids))
                return self._keyed_page(query, depth, value)

            def advance(
                ids: frozenset[str], page: Page[Keyed], grown: list[frozenset[str]] = grown
            ) -> frozenset[str] | None:
                following = ids | {str(item.get(self.key_field)) for item, _ in page.items}
                if not fits_budget(following, self.tie_budget):
                    grown.append(following)
                    return None
                return following

            for page in iter_pages(fetch, seen, advance, describe=f"GET {self.path}"):
                yield page.items
            if grown:
                self._check_splittable(grown[0])
                pending.extend(part.split(grown[0]))

    def _check_splittable(self, ids: frozenset[str]) -> None:
        for value in ids:
            if unsafe_id(value):
                raise ConnectPageError(
                    f"GET {self.path}: a tie group too large for one out(...) list holds id {value!r}, "
                    "which has a character RQL like() patterns cannot carry; it cannot be split by id"
                )
        if len(ids) <= 1:
            raise ConnectPageError(f"GET {self.path}: an id longer than the out(...) budget: {sorted(ids)!r}")
