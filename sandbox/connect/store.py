"""In-memory Connect collections queried with real RQL (``py_rql``).

Each collection keeps its records by id, a *filter view* per record (only the
filterable fields, timestamps already parsed, so comparisons are datetime
comparisons as on the real service), and sorted indexes on its orderable time
fields. A query ordered by an indexed field starts from the filter's lower bound on
that field (found in the parsed RQL tree) instead of scanning the whole collection:
keyset paging through 100,000 records stays fast.

Filters and lookups not declared for the endpoint in the spec-derived capability
table are rejected with 400, like Connect does, so the adapter cannot rely on
something the real API would refuse.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, overload
from urllib.parse import unquote

import py_rql
from dateutil.parser import isoparse
from lark import Token, Tree
from lark.exceptions import VisitError
from py_rql.constants import FilterTypes
from py_rql.exceptions import RQLFilterError
from py_rql.filter_cls import FilterClass

_TYPES = {
    "datetime": FilterTypes.DATETIME,
    "integer": FilterTypes.INT,
    "number": FilterTypes.DECIMAL,
    "boolean": FilterTypes.BOOLEAN,
    "string": FilterTypes.STRING,
}
_RESERVED = re.compile(r"^(limit|offset|search|order_by)=(.*)$", re.S)
_SIGNED = re.compile(r"^(ordering|select)\((.*)\)$", re.S)
EXACT_COUNT_LIMIT = 2_000
_ID_END = "\U0010ffff"


class QueryError(ValueError):
    """A request the real service would answer with 400; the message goes into ``errors``."""


@dataclass
class ParsedQuery:
    filter_text: str = ""
    ordering: list[str] = field(default_factory=list)
    select: list[str] = field(default_factory=list)
    limit: int | None = None
    offset: int = 0
    search: str | None = None


def parse_query_string(raw: str) -> ParsedQuery:
    """Split the raw query string the way the Connect client writes it.

    ``select(..)&<rql>&ordering(..)&limit=N&offset=M``: parts are percent-decoded
    (``+`` is kept: it is legal inside RQL values), reserved parameters are taken out,
    and the remaining parts are the filter, combined with ``and``.
    """
    result = ParsedQuery()
    filters: list[str] = []
    for part in raw.split("&") if raw else []:
        if not part:
            continue
        text = unquote(part)
        reserved = _RESERVED.match(text)
        if reserved:
            name, value = reserved.group(1), reserved.group(2)
            try:
                if name == "limit":
                    result.limit = int(value)
                elif name == "offset":
                    result.offset = int(value)
                elif name == "search":
                    result.search = value
                else:
                    result.ordering.extend(v for v in value.split(",") if v)
            except ValueError:
                raise QueryError(f"{name} must be an integer, got {value!r}") from None
            continue
        signed = _SIGNED.match(text)
        if signed:
            try:
                py_rql.parse(text)
            except RQLFilterError:
                raise QueryError(f"RQL parsing error in {text!r}") from None
            fields = [f.strip() for f in signed.group(2).split(",") if f.strip()]
            (result.ordering if signed.group(1) == "ordering" else result.select).extend(fields)
            continue
        filters.append(text)
    if len(filters) == 1:
        result.filter_text = filters[0]
    elif filters:
        result.filter_text = f"and({','.join(filters)})"
    if (result.limit is not None and result.limit < 0) or result.offset < 0:
        raise QueryError("limit and offset must not be negative")
    return result


def get_path(obj: Any, dotted: str) -> Any:
    for part in dotted.split("."):
        if not isinstance(obj, dict):
            return None
        obj = obj.get(part)
    return obj


def _set_path(obj: dict[str, Any], dotted: str, value: Any) -> None:
    parts = dotted.split(".")
    for part in parts[:-1]:
        obj = obj.setdefault(part, {})
    obj[parts[-1]] = value


def _parse_time(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return value
    if not isinstance(value, str) or not value:
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        try:
            return isoparse(value)
        except ValueError:
            return None


def _make_filter_class(capabilities: dict[str, Any]) -> FilterClass:
    decls = []
    for name, lookups in capabilities.get("filters", {}).items():
        if "__" in name:
            continue  # legacy double-underscore aliases: the dotted form is declared too
        ftype = _TYPES.get(capabilities.get("types", {}).get(name, "string"), FilterTypes.STRING)
        allowed = FilterClass.default_filter_lookups_for_type(ftype)
        decls.append({"filter": name, "type": ftype, "lookups": set(lookups) & allowed})
    cls = type("ConnectEndpointFilter", (FilterClass,), {"FILTERS": decls})
    instance: FilterClass = cls()
    return instance


class _Index:
    """Sorted ``(value, id)`` pairs for one time field; ``None`` values are not indexed."""

    def __init__(self) -> None:
        self.keys: list[tuple[datetime, str]] = []

    def add(self, value: datetime | None, key: str) -> None:
        if value is not None:
            bisect.insort(self.keys, (value, key))

    def remove(self, value: datetime | None, key: str) -> None:
        if value is None:
            return
        i = bisect.bisect_left(self.keys, (value, key))
        if i < len(self.keys) and self.keys[i] == (value, key):
            del self.keys[i]

    def from_bound(self, bound: datetime | None) -> tuple[int, int]:
        start = 0 if bound is None else bisect.bisect_left(self.keys, (bound, ""))
        return start, len(self.keys)

    def between(self, low: datetime | None, high: datetime | None, prefix: str = "") -> tuple[int, int]:
        """Positions of entries with ``low <= value <= high``; with one value (low == high),
        also narrowed to ids starting with ``prefix`` (entries sort by value, then id)."""
        if low is not None and low == high:
            return (
                bisect.bisect_left(self.keys, (low, prefix)),
                bisect.bisect_left(self.keys, (low, prefix + _ID_END)),
            )
        start = 0 if low is None else bisect.bisect_left(self.keys, (low, ""))
        end = len(self.keys) if high is None else bisect.bisect_left(self.keys, (high, _ID_END))
        return start, max(start, end)


class _IndexSlice(Sequence[str]):
    """Ids of ``keys[start:end]`` without copying them (valid until the next write)."""

    def __init__(self, keys: list[tuple[datetime, str]], start: int, end: int) -> None:
        self._keys, self._start, self._end = keys, start, end

    def __len__(self) -> int:
        return self._end - self._start

    @overload
    def __getitem__(self, i: int) -> str: ...
    @overload
    def __getitem__(self, i: slice) -> Sequence[str]: ...
    def __getitem__(self, i: int | slice) -> str | Sequence[str]:
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(len(self)))]
        if i < 0:
            i += len(self)
        if not 0 <= i < len(self):
            raise IndexError(i)
        return self._keys[self._start + i][1]


class _ReversedIndexSlice(_IndexSlice):
    """``_IndexSlice`` read from its end: a descending order on an indexed field."""

    def __getitem__(self, i: int | slice) -> str | Sequence[str]:
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(len(self)))]
        if i < 0:
            i += len(self)
        if not 0 <= i < len(self):
            raise IndexError(i)
        return self._keys[self._end - 1 - i][1]


@dataclass
class _Scan:
    """An ordered query's candidates, the matches found so far and where the scan stopped."""

    key: tuple[int, str, tuple[str, ...]]
    candidates: Sequence[str]
    hits: list[str] = field(default_factory=list)
    position: int = 0


class Collection:
    """One list endpoint's records plus what is needed to query them quickly."""

    def __init__(self, name: str, capabilities: dict[str, Any]) -> None:
        self.name = name
        self.capabilities = capabilities
        self.filter_cls = _make_filter_class(capabilities)
        self.filter_fields = {
            f: capabilities.get("types", {}).get(f, "string")
            for f in capabilities.get("filters", {})
            if "__" not in f
        }
        self.time_fields = [f for f, t in self.filter_fields.items() if t == "datetime"]
        self.orderable = set(capabilities.get("orderable", []))
        self.records: dict[str, dict[str, Any]] = {}
        self.views: dict[str, dict[str, Any]] = {}
        self.indexes: dict[str, _Index] = {f: _Index() for f in self.time_fields if f in self.orderable}
        # Offset paging re-sends the same filter with a growing offset; the last ordered
        # scan is kept (until the next write) so page N resumes where page N-1 stopped
        # instead of re-testing every record before the offset.
        self._version = 0
        self._scan: _Scan | None = None

    def _view(self, record: dict[str, Any]) -> dict[str, Any]:
        """The record with its filterable timestamps parsed; only the dicts on their paths are copied."""
        view = dict(record)
        for name in self.time_fields:
            parts = name.split(".")
            target: dict[str, Any] | None = view
            for part in parts[:-1]:
                child = target.get(part) if target is not None else None
                if not isinstance(child, dict) or target is None:
                    target = None
                    break
                child = dict(child)
                target[part] = child
                target = child
            if target is not None and target.get(parts[-1]) is not None:
                target[parts[-1]] = _parse_time(target[parts[-1]])
        return view

    def put(self, record: dict[str, Any]) -> None:
        key = record["id"]
        old = self.views.get(key)
        view = self._view(record)
        for name, index in self.indexes.items():
            before = get_path(old, name) if old is not None else None
            after = get_path(view, name)
            if old is None or before != after:
                if old is not None:
                    index.remove(before, key)
                index.add(after, key)
        self.records[key] = record
        self.views[key] = view
        self._version += 1

    def put_many(self, records: Iterable[dict[str, Any]]) -> None:
        self._version += 1
        for name in self.indexes:
            self.indexes[name] = _Index()
        for record in records:
            self.records[record["id"]] = record
            self.views[record["id"]] = self._view(record)
        for name, index in self.indexes.items():
            index.keys = sorted(
                (v, k) for k, view in self.views.items() if (v := get_path(view, name)) is not None
            )

    # -- querying ---------------------------------------------------------------------

    def _compile(self, text: str) -> Callable[[dict[str, Any]], bool]:
        if not text:
            return lambda view: True
        try:
            try:
                func = self.filter_cls.transform_query(text)
            except VisitError as wrapped:  # lark wraps what the transformer raised
                raise wrapped.orig_exc from None
        except KeyError as exc:
            raise QueryError(f"filter {exc.args[0]!r} is not supported on {self.name}") from None
        except RQLFilterError as exc:
            detail = (exc.details or {}).get("error") if isinstance(exc.details, dict) else None
            raise QueryError(f"{exc}: {detail or text}") from None
        except (ValueError, TypeError) as exc:
            raise QueryError(f"RQL value error: {exc}") from None

        def matches(view: dict[str, Any]) -> bool:
            try:
                return bool(func(view))
            except TypeError:  # comparing a missing value with a datetime
                return False

        return matches

    def _candidates(self, text: str, ordering: list[str]) -> tuple[Sequence[str], bool]:
        """Ids to test, in result order, and whether they are already sorted.

        As a database would: an ascending order on an indexed field scans that index
        between the filter's bounds; otherwise a field the filter pins to one value
        (``eq``) narrows the scan to that value (and an id prefix), sorted afterwards.
        """
        if ordering and len(ordering) == 1:
            field = ordering[0].lstrip("+-")
            index = self.indexes.get(field)
            if index is not None:
                low, high = value_bounds(text, field) if text else (None, None)
                prefix = id_prefix(text) if text and low is not None and low == high else ""
                start, end = index.between(low, high, prefix)
                if ordering[0].startswith("-"):  # the newest first, as an index read backwards
                    return _ReversedIndexSlice(index.keys, start, end), True
                return _IndexSlice(index.keys, start, end), True
        if text:
            for field, index in self.indexes.items():
                low, high = value_bounds(text, field)
                if low is not None and low == high:
                    start, end = index.between(low, high, id_prefix(text))
                    return list(_IndexSlice(index.keys, start, end)), not ordering
        return list(self.records), False

    def query(self, parsed: ParsedQuery, *, limit: int) -> tuple[list[dict[str, Any]], int]:
        """(page of records, total matching) for a parsed request."""
        for name in parsed.ordering:
            if name.lstrip("+-") not in self.orderable:
                raise QueryError(f"ordering by {name.lstrip('+-')!r} is not supported on {self.name}")
        matches = self._compile(parsed.filter_text)
        views = self.views
        scan_key = (self._version, parsed.filter_text, tuple(parsed.ordering))
        scan = self._scan if self._scan is not None and self._scan.key == scan_key else None
        if scan is None:
            candidates, ordered = self._candidates(parsed.filter_text, parsed.ordering)
            if not ordered:
                hits = [k for k in candidates if matches(views[k])]
                if parsed.ordering:
                    hits = self._sort(hits, parsed.ordering)
                page = hits[parsed.offset : parsed.offset + limit]
                return [self.records[k] for k in page], len(hits)
            scan = _Scan(scan_key, candidates)
            self._scan = scan
        candidates = scan.candidates
        hits = scan.hits
        wanted = parsed.offset + limit
        position = scan.position
        while position < len(candidates) and len(hits) < wanted:
            key = candidates[position]
            position += 1
            if matches(views[key]):
                hits.append(key)
        scan.position = position
        total = len(hits)
        left = len(candidates) - position
        if left <= EXACT_COUNT_LIMIT:
            total += sum(1 for i in range(position, len(candidates)) if matches(views[candidates[i]]))
        else:
            total += left  # an upper bound; clients stop at an empty page
        page = hits[parsed.offset : parsed.offset + limit]
        return [self.records[k] for k in page], total

    def _sort(self, keys: list[str], ordering: list[str]) -> list[str]:
        for name in reversed(ordering):
            desc = name.startswith("-")
            field = name.lstrip("+-")

            def sort_key(k: str, field: str = field) -> tuple[int, Any]:
                value = get_path(self.views[k], field)
                if value is None:
                    value = get_path(self.records[k], field)
                return (0, "") if value is None else (1, value)

            keys = sorted(keys, key=sort_key, reverse=desc)
        return keys


def _value(node: Any) -> str:
    while isinstance(node, Tree):
        node = node.children[0]
    return str(node.value) if isinstance(node, Token) else str(node)


def lower_bound(text: str, field: str) -> datetime | None:
    """The smallest ``field`` value the filter can match (None = unbounded), from its tree.

    Only used to skip index entries that cannot match; the full filter still decides.
    """
    return value_bounds(text, field)[0]


def value_bounds(text: str, field: str) -> tuple[datetime | None, datetime | None]:
    """(lowest, highest) ``field`` value the filter can match, either None = unbounded.

    Both ends are inclusive supersets (``lt`` gives its value as the upper end): a
    database index would use them the same way, and the filter still decides.
    """
    try:
        tree = py_rql.parse(text)
    except RQLFilterError:
        return None, None
    return _bounds(tree, field)


def id_prefix(text: str) -> str:
    """A literal prefix every match's id has (from an and-level ``like(id,P*)``), or ""."""
    try:
        tree = py_rql.parse(text)
    except RQLFilterError:
        return ""
    return _prefix(tree)


def _prefix(node: Any) -> str:
    if not isinstance(node, Tree):
        return ""
    kind = node.data
    if kind in ("start", "term", "expr_term", "logical"):
        return _prefix(node.children[0]) if node.children else ""
    if kind == "searching" and len(node.children) == 3:
        op, prop, value = (_value(c) for c in node.children)
        if op == "like" and prop == "id" and value.endswith("*") and "*" not in value[:-1]:
            return value[:-1]
        return ""
    if kind == "and_op":
        return max((_prefix(child) for child in node.children), key=len, default="")
    return ""


Bounds = tuple[datetime | None, datetime | None]


def _bounds(node: Any, field: str) -> Bounds:
    if not isinstance(node, Tree):
        return None, None
    kind = node.data
    if kind in ("start", "term", "expr_term", "logical"):
        return _bounds(node.children[0], field) if node.children else (None, None)
    if kind == "comp":
        args = node.children
        if len(args) == 3 and isinstance(args[0], Tree) and args[0].data == "comp_term":
            op, prop, value = _value(args[0]), _value(args[1]), _value(args[2])
        elif len(args) == 2:
            op, prop, value = "eq", _value(args[0]), _value(args[1])
        else:
            op, prop, value = _value(args[1]), _value(args[0]), _value(args[2])
        if prop != field:
            return None, None
        at = _parse_time(value.strip("'\""))
        if op == "eq":
            return at, at
        if op in ("ge", "gt"):
            return at, None
        if op in ("le", "lt"):
            return None, at
        return None, None
    if kind == "and_op":
        lows: list[datetime] = []
        highs: list[datetime] = []
        for child in node.children:
            low, high = _bounds(child, field)
            if low is not None:
                lows.append(low)
            if high is not None:
                highs.append(high)
        return (max(lows) if lows else None), (min(highs) if highs else None)
    if kind == "or_op":
        parts = [_bounds(child, field) for child in node.children]
        low_values = [p[0] for p in parts if p[0] is not None]
        high_values = [p[1] for p in parts if p[1] is not None]
        low = min(low_values) if parts and len(low_values) == len(parts) else None
        high = max(high_values) if parts and len(high_values) == len(parts) else None
        return low, high
    return None, None
