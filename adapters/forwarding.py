"""The one base for sources that wrap another source (batch lookups, filters).

A wrapper that forwards members by hand drops whichever member its author forgot, and
the driver then quietly behaves differently: a dropped ``lookback`` re-reads nothing
late, a dropped ``refetch`` leaves quarantined items waiting, a dropped
``settled_cursor`` commits nothing when the budget stops an unordered run.
:class:`ForwardingSource` forwards every member of :class:`~adapters.protocol.Source`,
and each optional protocol (:class:`~adapters.protocol.Refetchable`,
:class:`~adapters.protocol.Settling`, :class:`~adapters.protocol.Paged`) exactly when the
wrapped source implements it:
the optional members are mixed into the wrapper's class at construction, so an
``isinstance`` check against the protocol gives the same answer for the wrapper as for
the source it wraps.

A subclass changes what it must and nothing else: usually only :meth:`wrap`, which sees
the item stream of ``fetch_since`` and of ``refetch`` alike. Pages are forwarded only by
a wrapper that says what it does to them (:meth:`wrap_pages`) or does nothing to items:
a wrapper that changes items in :meth:`wrap` alone is read item by item, so its change
is never skipped.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime, timedelta
from typing import Any, Generic, TypeVar

from adapters.protocol import Ordering, Paged, Refetchable, Settling, Source
from adapters.records import DocumentItem, RecordItem, Refetch, SourceItem

__all__ = ["ForwardingSource", "ItemT"]

ItemT = TypeVar("ItemT", RecordItem, DocumentItem, RecordItem | DocumentItem)


class ForwardingSource(Generic[ItemT]):
    """A :class:`~adapters.protocol.Source` forwarding to ``source``, items passed through :meth:`wrap`."""

    def __new__(cls, *args: Any, **kwargs: Any) -> Any:
        """An instance of ``cls`` with the optional members of the wrapped source mixed in."""
        source = args[0] if args else kwargs["source"]
        mixins = tuple(mixin for protocol, mixin in _OPTIONAL_MEMBERS if isinstance(source, protocol))
        if _ForwardsPages in mixins and not _handles_pages(cls):
            mixins = tuple(mixin for mixin in mixins if mixin is not _ForwardsPages)
        return super().__new__(_with_members(cls, mixins))

    def __init__(self, source: Source[Any]) -> None:
        # ``Source[Any]``: mypy cannot match a subclass's constrained item type here
        self.source: Source[ItemT] = source

    @property
    def name(self) -> str:
        return self.source.name

    @property
    def ordering(self) -> Ordering:
        return self.source.ordering

    @property
    def lookback(self) -> timedelta:
        return self.source.lookback

    def fetch_since(self, since: datetime | None, /) -> Iterator[ItemT]:
        return self.wrap(self.source.fetch_since(since))

    def close(self) -> None:
        self.source.close()

    def wrap(self, items: Iterator[Any]) -> Iterator[Any]:
        """What this wrapper does to the items the source yields; passes them on unchanged here."""
        return items

    def wrap_pages(self, pages: Iterator[Sequence[Any]]) -> Iterator[Sequence[Any]]:
        """:meth:`wrap` for a paged source's pages; passes them on unchanged here."""
        return pages


def _handles_pages(cls: type[ForwardingSource[Any]]) -> bool:
    """Whether ``cls`` may forward pages: no item hook is overridden below its page hook.

    ``wrap`` and ``fetch_since`` are where a wrapper changes items; ``wrap_pages`` is
    where it changes pages. Pages are forwarded only when the class that last defined
    ``wrap_pages`` is (a subclass of) every class that last defined an item hook, so a
    subclass that changes items in ``wrap`` or ``fetch_since`` alone is read item by
    item and its change is never skipped.
    """
    pages = _defined_by(cls, "wrap_pages")
    return all(issubclass(pages, _defined_by(cls, hook)) for hook in ("wrap", "fetch_since"))


def _defined_by(cls: type, name: str) -> type:
    """The class in ``cls``'s method resolution order whose body defines ``name``."""
    return next(klass for klass in cls.__mro__ if name in vars(klass))


class _ForwardsRefetch:
    """Mixed in when the wrapped source is :class:`~adapters.protocol.Refetchable`."""

    source: Any

    def refetch(self, wanted: Sequence[Refetch]) -> Iterator[SourceItem]:
        wrapper: Any = self
        items: Iterator[SourceItem] = wrapper.wrap(self.source.refetch(wanted))
        return items


class _ForwardsSettledCursor:
    """Mixed in when the wrapped source is :class:`~adapters.protocol.Settling`."""

    source: Any

    def settled_cursor(self) -> datetime | None:
        settled: datetime | None = self.source.settled_cursor()
        return settled


class _ForwardsPages:
    """Mixed in when the wrapped source is :class:`~adapters.protocol.Paged` (see :func:`_handles_pages`)."""

    source: Any

    def fetch_pages_since(self, since: datetime | None, /) -> Iterator[Sequence[SourceItem]]:
        wrapper: Any = self
        pages: Iterator[Sequence[SourceItem]] = wrapper.wrap_pages(self.source.fetch_pages_since(since))
        return pages


#: each optional protocol and the mixin that forwards its members
_OPTIONAL_MEMBERS: tuple[tuple[type, type], ...] = (
    (Refetchable, _ForwardsRefetch),
    (Settling, _ForwardsSettledCursor),
    (Paged, _ForwardsPages),
)


_built: dict[tuple[type, tuple[type, ...]], type] = {}


def _with_members(cls: type, mixins: tuple[type, ...]) -> type:
    """``cls`` with ``mixins`` added (one class per combination, built once)."""
    if not mixins:
        return cls
    if (cls, mixins) not in _built:
        names = "".join(mixin.__name__.removeprefix("_Forwards") for mixin in mixins)
        _built[cls, mixins] = type(
            f"{cls.__name__}With{names}", (cls, *mixins), {"__module__": cls.__module__}
        )
    return _built[cls, mixins]
