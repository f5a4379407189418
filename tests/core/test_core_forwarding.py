"""ForwardingSource: every member of every source protocol is forwarded, optional ones only when present.

The member lists are read from the protocols themselves, so a member added to
``Source``, ``Refetchable`` or ``Settling`` later fails here until the base forwards it.
"""

from __future__ import annotations

import io
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from adapters.forwarding import ForwardingSource
from adapters.prefetch import Prefetching
from adapters.protocol import Ordering, Refetchable, Settling, Source
from adapters.records import DocumentItem, RecordItem, Refetch, SourceItem
from connectors.codat_push_documents import NotFromCodat

T0 = datetime(2026, 1, 1, tzinfo=UTC)
SETTLED = T0 + timedelta(hours=3)


def protocol_members(protocol: type) -> set[str]:
    """The members a protocol declares (what ``isinstance`` against it checks)."""
    members = getattr(protocol, "__protocol_attrs__", None)
    if members is None:  # Python 3.11 keeps no list: read the protocol's own namespace
        members = {name for name in vars(protocol) if not name.startswith("_") and name not in {"register"}}
    return set(members)


def document(key: str) -> DocumentItem:
    return DocumentItem(key, T0, f"{key}.pdf", "application/pdf", lambda: io.BytesIO(b"%PDF"))


class Full(Source[DocumentItem]):
    """A source with every optional member; it records each call so forwarding is observable.

    It yields documents, the one kind every shipped wrapper accepts.
    """

    name = "full"
    ordering = Ordering.UNORDERED
    lookback = timedelta(minutes=5)

    def __init__(self) -> None:
        self.calls: list[tuple[str, Any]] = []

    def fetch_since(self, since: datetime | None, /) -> Iterator[DocumentItem]:
        self.calls.append(("fetch_since", since))
        yield document("a")

    def refetch(self, wanted: Sequence[Refetch]) -> Iterator[SourceItem]:
        self.calls.append(("refetch", [w.key for w in wanted]))
        yield document("q")

    def settled_cursor(self) -> datetime | None:
        self.calls.append(("settled_cursor", None))
        return SETTLED

    def close(self) -> None:
        self.calls.append(("close", None))


class Bare(Source[RecordItem]):
    """Only the required members (``close`` inherited from the protocol's no-op)."""

    name = "bare"
    ordering = Ordering.CURSOR_ORDERED
    lookback = timedelta(0)

    def fetch_since(self, since: datetime | None, /) -> Iterator[RecordItem]:
        return iter(())


def wrappers(source: Source[Any]) -> list[ForwardingSource[Any]]:
    """One of each wrapper the project ships, around ``source``."""
    return [ForwardingSource(source), Prefetching(source, lambda batch: None), NotFromCodat(source)]  # type: ignore[arg-type]


def test_the_protocols_declare_what_the_driver_reads_and_no_classifier() -> None:
    assert protocol_members(Source) == {"name", "ordering", "lookback", "fetch_since", "close"}
    assert protocol_members(Refetchable) == {"refetch"}
    assert protocol_members(Settling) == {"settled_cursor"}


@pytest.mark.parametrize("index", range(3), ids=["base", "prefetching", "not_from_codat"])
def test_every_member_of_every_protocol_reaches_the_wrapped_source(index: int) -> None:
    inner = Full()
    wrapper = wrappers(inner)[index]
    assert isinstance(wrapper, Source) and isinstance(wrapper, Refetchable) and isinstance(wrapper, Settling)
    missing = [
        member
        for protocol in (Source, Refetchable, Settling)
        for member in protocol_members(protocol)
        if not hasattr(wrapper, member)
    ]
    assert missing == []
    assert (wrapper.name, wrapper.ordering, wrapper.lookback) == (
        "full",
        Ordering.UNORDERED,
        timedelta(minutes=5),
    )
    assert [i.key for i in wrapper.fetch_since(T0)] == ["a"]
    assert [i.key for i in wrapper.refetch([Refetch("q", None)])] == ["q"]  # type: ignore[attr-defined]
    assert wrapper.settled_cursor() == SETTLED  # type: ignore[attr-defined]
    wrapper.close()
    assert inner.calls == [("fetch_since", T0), ("refetch", ["q"]), ("settled_cursor", None), ("close", None)]


@pytest.mark.parametrize("index", range(3), ids=["base", "prefetching", "not_from_codat"])
def test_optional_members_are_absent_when_the_wrapped_source_lacks_them(index: int) -> None:
    """A wrapper that always had ``refetch`` would hide that its source cannot fetch by key."""
    wrapper = wrappers(Bare())[index]
    assert isinstance(wrapper, Source)
    assert not isinstance(wrapper, Refetchable)
    assert not isinstance(wrapper, Settling)
    assert not hasattr(wrapper, "refetch") and not hasattr(wrapper, "settled_cursor")
    wrapper.close()  # the inherited no-op


def test_wrappers_of_wrappers_keep_the_members_and_their_own_state() -> None:
    inner = Full()
    seen: list[list[str]] = []
    outer = Prefetching(ForwardingSource(inner), lambda batch: seen.append([i.key for i in batch]))
    assert isinstance(outer, Refetchable) and isinstance(outer, Settling)
    assert [i.key for i in outer.refetch([Refetch("q", None)])] == ["q"]  # type: ignore[attr-defined]
    assert seen == [["q"]]  # the refetched items were prefetched too
    assert outer.batch_size == 500 and outer.source.source is inner  # type: ignore[attr-defined]


def test_the_readme_wrapper_example_is_a_complete_source() -> None:
    import re
    from pathlib import Path

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    section = readme.split("### The source protocol", 1)[1]
    match = re.search(r"```python\n(.*?)```", section, flags=re.S)
    assert match, "the section shows a wrapper"
    namespace: dict[str, Any] = {"ForwardingSource": ForwardingSource, "RecordItem": RecordItem}
    exec(match.group(1), namespace)

    class Suppliers(Source[RecordItem]):
        name = "suppliers"
        ordering = Ordering.CURSOR_ORDERED
        lookback = timedelta(minutes=1)

        def fetch_since(self, since: datetime | None, /) -> Iterator[RecordItem]:
            yield RecordItem("on", T0, {"active": True})
            yield RecordItem("off", T0, {"active": False})

    wrapped = namespace["ActiveOnly"](Suppliers())
    assert isinstance(wrapped, Source) and not isinstance(wrapped, Refetchable)
    assert [i.key for i in wrapped.fetch_since(None)] == ["on"]
    assert wrapped.lookback == timedelta(minutes=1)
