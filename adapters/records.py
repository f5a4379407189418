"""The items every source yields: records (keyed payloads), documents (keyed files) and refusals.

A :class:`RefusedItem` is what a source yields *instead of* an item it cannot build
(an archive member refused for safety, a record that does not parse): raising would end
the generator and with it the run, so one bad record would block every record behind
it. The sync driver sends refusals to the quarantine (:mod:`adapters.quarantine`)
rather than to the sinks.

The envelopes are slotted dataclasses rather than pydantic models because they are
created once per source record on the hot path; the payloads inside them are the
sources' own pydantic models or plain mappings.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import IO, Any

from pydantic import BaseModel


def _require_aware(key: str, cursor: datetime | None) -> None:
    if cursor is not None and (cursor.tzinfo is None or cursor.utcoffset() is None):
        raise ValueError(f"item {key!r}: cursor value {cursor.isoformat()} has no time zone")


@dataclass(frozen=True, slots=True, init=False)
class RecordItem:
    """One source record.

    ``key`` is the source's stable identity, ``cursor`` the value the watermark is
    computed from (an aware UTC datetime, or ``None`` for sources with no time cursor).
    """

    key: str
    cursor: datetime | None
    payload: BaseModel | Mapping[str, Any]
    stream: str = ""

    def __init__(
        self, key: str, cursor: datetime | None, payload: BaseModel | Mapping[str, Any], stream: str = ""
    ) -> None:
        # Written out instead of generated, because it runs once per source record: the
        # frozen dataclass's own sets each field through ``object.__setattr__`` and then
        # calls ``__post_init__`` (about 550 ns here); the slots' setters take about 300.
        if cursor is not None and cursor.tzinfo is not UTC:  # UTC, the usual case, needs no call
            _require_aware(key, cursor)
        _set_key(self, key)
        _set_cursor(self, cursor)
        _set_payload(self, payload)
        _set_stream(self, stream)

    def as_mapping(self) -> Mapping[str, Any]:
        """The payload as a mapping, whatever form the source produced it in.

        A plain ``dict`` (what the Connect sources yield) is returned before the
        ``BaseModel`` check, whose metaclass makes ``isinstance`` several calls deep.
        """
        payload = self.payload
        if type(payload) is dict:
            return payload
        if isinstance(payload, BaseModel):
            return payload.model_dump(mode="json")
        return payload


# the slots' own setters: they bypass the frozen ``__setattr__`` as ``object.__setattr__`` does
_set_key: Callable[[RecordItem, str], None] = vars(RecordItem)["key"].__set__
_set_cursor: Callable[[RecordItem, datetime | None], None] = vars(RecordItem)["cursor"].__set__
_set_payload: Callable[[RecordItem, Any], None] = vars(RecordItem)["payload"].__set__
_set_stream: Callable[[RecordItem, str], None] = vars(RecordItem)["stream"].__set__


@dataclass(frozen=True, slots=True)
class DocumentItem:
    """One source file.

    The bytes are never held by the item: ``open()`` returns a fresh binary stream
    each time it is called, so a sink can read the content once to hash it and once
    more to send it without keeping it all in memory. ``size`` and ``sha256`` are
    filled when the source knows them up front; sinks compute them otherwise.
    """

    key: str
    cursor: datetime | None
    name: str
    media_type: str
    open: Callable[[], IO[bytes]]
    size: int | None = None
    sha256: str | None = None
    metadata: Mapping[str, Any] = field(default_factory=dict)
    stream: str = ""

    def __post_init__(self) -> None:
        _require_aware(self.key, self.cursor)
        if not self.name:
            raise ValueError(f"document {self.key!r} has no file name")


@dataclass(frozen=True, slots=True)
class RefusedItem:
    """An item the source saw but refuses permanently; it is kept in quarantine, not lost.

    ``key`` is the identity the item would have had (so a later good version of it
    releases the quarantine entry), ``cursor`` its cursor value when known (the
    watermark may pass it once the refusal is durably kept), ``reason`` a one-line
    explanation that names what was seen (never a secret). ``refetch`` is the source's
    own hint for fetching the item again later, e.g. ``{"partition": "2026-01-05"}``
    for a source that can only re-read a whole day; it is stored with the entry and
    handed back to the source's ``refetch()``.
    """

    key: str
    cursor: datetime | None
    reason: str
    stream: str = ""
    refetch: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        _require_aware(self.key, self.cursor)
        if not self.key:
            raise ValueError(f"a refused item needs a key (reason: {self.reason})")


@dataclass(frozen=True, slots=True)
class Refetch:
    """One quarantined item a source is asked to fetch again (see ``Refetchable``)."""

    key: str
    cursor: datetime | None
    hint: Mapping[str, Any] = field(default_factory=dict)


Item = RecordItem | DocumentItem
#: everything ``fetch_since`` and ``refetch`` may yield
SourceItem = RecordItem | DocumentItem | RefusedItem
