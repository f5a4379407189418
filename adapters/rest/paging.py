"""How a REST listing is walked: one small interface, one class per paging style.

A paginator only says what to ask for next and what the server said about the end; the
page loop in :mod:`adapters.rest.source` owns the stop rule, so every style obeys the
same one: a loop never stops on a single signal. A short page (the server capped the
size), a total or a ``next_page: null`` alone do not end it; the end is an empty page,
or a server signal confirmed by an empty probe page, or a style that has nothing left
to ask for (no token, no ``next`` link). Each paginator is pure: ``first`` and
``following`` build requests from what arrived, which keeps them testable without HTTP
and lets another page iterator (for example Connect's) share the interface.

Styles, and what they promise:

* :class:`PageNumber` and :class:`Offset` address positions in a list. If the list
  shifts while it is read (a record updated to the end of an update-time ordering), a
  record can slide over a page boundary unseen. The source detects the shift (a key seen
  twice in one pass) and reads the pass again; its ordering is ``UNORDERED``.
  :class:`Offset` advances by what arrived, never by what it asked for, so a server
  that caps page sizes skips nothing.
* :class:`NextToken` and :class:`NextUrl`, :class:`LinkHeader`: the server's cursor; as
  safe as the server makes it, read as ``UNORDERED``.
* :class:`Keyset`: re-query from the last cursor value (and key). Nothing that moves can
  be skipped, and the stream is ``CURSOR_ORDERED``: prefer it where the API allows.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

import httpx

from adapters.records import RecordItem
from adapters.rest.fields import MISSING, get_path

__all__ = [
    "Keyset",
    "LinkHeader",
    "NextToken",
    "NextUrl",
    "Offset",
    "Page",
    "PageNumber",
    "PageRequest",
    "Paginator",
    "format_query_time",
]


def format_query_time(moment: datetime) -> str:
    """``YYYY-MM-DDTHH:MM:SSZ``, floored to the second: the form every ISO-8601 API accepts.

    Flooring sends an earlier bound, never a later one, so nothing at the bound is lost.
    """
    return moment.astimezone(UTC).replace(microsecond=0).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class PageRequest:
    """Query parameters for one page, or a full URL the server handed out (sent as is)."""

    params: Mapping[str, str] = field(default_factory=dict)
    url: str | None = None


@dataclass(frozen=True)
class Page:
    """One answer: the request, the records as items, the parsed body and the headers."""

    request: PageRequest
    items: Sequence[RecordItem]
    body: Any
    headers: httpx.Headers
    base_url: str = ""


class Paginator(Protocol):
    """What a page loop needs from a paging style."""

    @property
    def walks_cursor(self) -> bool:
        """True when paging follows the cursor itself (keyset), so any prefix is complete."""
        ...

    def first(self, since: datetime | None) -> PageRequest:
        """The first page of a pass starting at ``since`` (inclusive)."""
        ...

    def following(self, page: Page) -> PageRequest | None:
        """The page after ``page``; ``None`` when this style has nothing left to ask for."""
        ...

    def says_done(self, page: Page) -> bool | None:
        """What the server said about the end (``None``: it says nothing)."""
        ...


def _size(param: str | None, size: int | None) -> dict[str, str]:
    return {param: str(size)} if param and size else {}


@dataclass(frozen=True)
class PageNumber:
    """``?page=N&per_page=S``; ``next_field`` names the body's next-page number, if any."""

    page_param: str = "page"
    size_param: str | None = "per_page"
    size: int | None = 100
    start: int = 1
    next_field: str | None = None
    walks_cursor: bool = False

    def _request(self, number: int) -> PageRequest:
        return PageRequest({self.page_param: str(number), **_size(self.size_param, self.size)})

    def first(self, since: datetime | None) -> PageRequest:
        return self._request(self.start)

    def following(self, page: Page) -> PageRequest:
        current = int(page.request.params[self.page_param])
        announced = get_path(page.body, self.next_field) if self.next_field else MISSING
        if isinstance(announced, int) and not isinstance(announced, bool) and announced > current:
            return self._request(announced)
        return self._request(current + 1)

    def says_done(self, page: Page) -> bool | None:
        if not self.next_field:
            return None
        announced = get_path(page.body, self.next_field)
        return None if announced is MISSING else announced in (None, "", False, 0)


@dataclass(frozen=True)
class Offset:
    """``?offset=K&limit=S``, advanced by the records that arrived; ``total_field`` optional."""

    offset_param: str = "offset"
    size_param: str | None = "limit"
    size: int | None = 100
    total_field: str | None = None
    walks_cursor: bool = False

    def first(self, since: datetime | None) -> PageRequest:
        return PageRequest({self.offset_param: "0", **_size(self.size_param, self.size)})

    def following(self, page: Page) -> PageRequest | None:
        if not page.items:
            return None  # the offset would not move: asking again gets the same empty page
        offset = int(page.request.params[self.offset_param]) + len(page.items)
        return PageRequest({self.offset_param: str(offset), **_size(self.size_param, self.size)})

    def says_done(self, page: Page) -> bool | None:
        total = get_path(page.body, self.total_field) if self.total_field else MISSING
        if not isinstance(total, int) or isinstance(total, bool):
            return None
        return int(page.request.params[self.offset_param]) + len(page.items) >= total


@dataclass(frozen=True)
class NextToken:
    """An opaque token in the body (``token_field``) sent back as ``token_param``."""

    token_field: str = "next_cursor"
    token_param: str = "cursor"
    size_param: str | None = "limit"
    size: int | None = 100
    walks_cursor: bool = False

    def first(self, since: datetime | None) -> PageRequest:
        return PageRequest(_size(self.size_param, self.size))

    def following(self, page: Page) -> PageRequest | None:
        token = get_path(page.body, self.token_field)
        if token is MISSING or token in (None, ""):
            return None
        return PageRequest({self.token_param: str(token), **_size(self.size_param, self.size)})

    def says_done(self, page: Page) -> bool | None:
        return self.following(page) is None


def _absolute(base_url: str, url: str) -> str:
    return str(httpx.URL(base_url).join(url)) if base_url else url


class _FollowsNamedUrl:
    """Shared by the paginators that follow a next-page URL the server names.

    Where the URL comes from (a body field, a ``Link`` header) is all that differs; the
    first request, the follow-up and the stop signal ("no next URL") are the same.
    """

    size_param: str | None
    size: int | None

    def first(self, since: datetime | None) -> PageRequest:
        return PageRequest(_size(self.size_param, self.size))

    def next_url(self, page: Page) -> str | None:
        raise NotImplementedError

    def following(self, page: Page) -> PageRequest | None:
        url = self.next_url(page)
        return PageRequest(url=_absolute(page.base_url, url)) if url else None

    def says_done(self, page: Page) -> bool | None:
        return self.following(page) is None


@dataclass(frozen=True)
class NextUrl(_FollowsNamedUrl):
    """A full next-page URL in the body (``url_field``), followed as is."""

    url_field: str = "next"
    size_param: str | None = "limit"
    size: int | None = 100
    walks_cursor: bool = False

    def next_url(self, page: Page) -> str | None:
        url = get_path(page.body, self.url_field)
        return url if isinstance(url, str) and url else None


@dataclass(frozen=True)
class LinkHeader(_FollowsNamedUrl):
    """RFC 8288 ``Link: <url>; rel="next"`` (GitHub style), followed as is."""

    rel: str = "next"
    size_param: str | None = "per_page"
    size: int | None = 100
    walks_cursor: bool = False

    def next_url(self, page: Page) -> str | None:
        header = page.headers.get("link")
        if not header:
            return None
        target = httpx.Response(200, headers={"link": header}).links.get(self.rel, {}).get("url")
        return target if isinstance(target, str) and target else None


@dataclass(frozen=True)
class Keyset:
    """Re-query from the last item: ``cursor_param`` = its cursor, ``key_param`` = its key.

    The API must return records ordered by (cursor, key) at or after the bound; the page
    loop checks the order and refuses a page that breaks it. With ``key_param`` a tie
    group of any size is stepped through exactly. Without one the bound is re-sent
    ``slack`` earlier (tolerant of APIs whose bound is exclusive) and the records already
    read are skipped; a page filled by one timestamp then cannot make progress, and the
    loop says so rather than looping.
    """

    cursor_param: str = "updated_since"
    key_param: str | None = None
    size_param: str | None = "limit"
    size: int | None = 100
    slack: timedelta = timedelta(seconds=1)
    walks_cursor: bool = True

    def first(self, since: datetime | None) -> PageRequest:
        params = _size(self.size_param, self.size)
        if since is not None:
            params[self.cursor_param] = format_query_time(since - self.slack)
        return PageRequest(params)

    def following(self, page: Page) -> PageRequest | None:
        if not page.items:
            return None
        last = page.items[-1]
        if last.cursor is None:
            return None
        params = _size(self.size_param, self.size)
        if self.key_param:
            params[self.cursor_param] = last.cursor.astimezone(UTC).isoformat().replace("+00:00", "Z")
            params[self.key_param] = last.key
        else:
            params[self.cursor_param] = format_query_time(last.cursor - self.slack)
        return PageRequest(params)

    def says_done(self, page: Page) -> bool | None:
        return None
