"""A sink into a framework Load (``SupplierLoad`` and friends): map, buffer, ``save_all()``.

The mapper gets each item and the Load and fills one entity from ``load.new()``; the
sink calls ``save_all()`` on flush. Loads upsert by their natural key, so re-delivered
items are harmless. A ``ValidationError`` from the Load (which rejects the whole batch
before any HTTP call) is re-raised as :class:`LoadValidationError` naming the failing
source keys and fields, so the run fails, the cursor stays and the log says which
records to fix.

With a quarantine (``sync(..., quarantine=...)``) the driver calls
:meth:`LoadSink.flush_isolating` instead: the framework's ``ValidationError`` names
fields, not rows, so a rejected batch is split in halves, each half rebuilt in a fresh
Load (a Load keeps rejected entities dirty, so the old one cannot be reused) and saved,
recursively, until the rejected rows are single items. Those are reported for
quarantine; every other row is saved. Finding ``b`` bad rows among ``n`` costs about
``2 b log2(n)`` extra ``save_all()`` calls, and validation runs before any HTTP call,
so the extra calls for a ``ValidationError`` are local. A batch Nuntiq itself rejects
as ``invalid`` (HTTP 400) is split the same way; Load saves are upserts, so sending a
half again is harmless.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, Generic, Protocol, TypeVar, cast

from adapters.failures import AdapterError, FailureClass
from adapters.nuntiq.retrier import nuntiq_retrier
from adapters.records import DocumentItem, RecordItem
from adapters.retry import Retrier
from adapters.runtime import ContextLike
from adapters.sinks.base import IsolatedFlush, RecordRefused, Rejection, SinkCounts, SinkError

__all__ = ["LoadLike", "LoadSink", "LoadValidationError", "MappingError"]

ItemT = TypeVar("ItemT", RecordItem, DocumentItem, RecordItem | DocumentItem)

_SHOW_KEYS = 20
_REASON_CHARS = 400


class LoadLike(Protocol):
    """The part of a framework Load the sink uses."""

    def new(self) -> Any: ...

    def save_all(self) -> Any: ...


#: ``mapper(item, load)`` fills an entity from ``load.new()`` and returns it, or returns
#: ``None`` without calling ``new()`` to skip the item
Mapper = Callable[[ItemT, Any], Any]


class MappingError(RecordRefused):
    """The mapper failed on an item (a field missing or malformed in the source record)."""


class LoadValidationError(SinkError):
    """The Load rejected a batch; ``keys`` are the failing source keys, ``field_errors`` the fields."""

    def __init__(self, message: str, *, keys: Sequence[str], field_errors: Mapping[str, Any]) -> None:
        super().__init__(message)
        self.keys = list(keys)
        self.field_errors = dict(field_errors)


class LoadSink(Generic[ItemT]):
    """Buffers mapped entities in ``load`` and saves them on ``flush()``.

    ``fresh_load`` makes an empty Load of the same kind; :meth:`flush_isolating` needs it
    to rebuild the halves of a rejected batch (``for_context`` supplies one). The mapper
    may then be called again for an item it already mapped, and must return the entity
    again rather than skip it.
    """

    def __init__(
        self,
        load: LoadLike,
        mapper: Mapper[ItemT],
        *,
        name: str | None = None,
        retrier: Retrier,
        fresh_load: Callable[[], LoadLike] | None = None,
    ) -> None:
        self.load = load
        self.mapper: Callable[[ItemT, Any], Any] = mapper
        self._name = name or type(load).__name__
        self.retrier = retrier
        self.fresh_load = fresh_load
        self._pending: list[tuple[ItemT, Any]] = []  # (source item, entity)
        #: save_all() calls spent finding rejected rows (for summaries and tests)
        self.isolation_saves = 0
        self._filtered = 0
        self._rejected = 0
        self.written = 0

    @classmethod
    def for_context(
        cls,
        context: ContextLike,
        load: LoadLike,
        mapper: Mapper[ItemT],
        *,
        name: str | None = None,
    ) -> LoadSink[ItemT]:
        """The usual wiring: saves retried under the shared policy, retries logged.

        Load saves are upserts (by the entity's natural key), so sending a batch again
        after a transient failure cannot duplicate rows. Fresh Loads for isolating
        rejected rows are built the framework's way, ``type(load)(context)``.
        """
        retrier = nuntiq_retrier(context)
        load_type = cast(Callable[[ContextLike], LoadLike], type(load))
        return cls(load, mapper, name=name, retrier=retrier, fresh_load=lambda: load_type(context))

    @property
    def name(self) -> str:
        return self._name

    @property
    def pending(self) -> int:
        return len(self._pending)

    @property
    def rows_per_write(self) -> int | None:
        """Rows one ``save_all`` request carries (the Load's ``batch_size``), None when unknown.

        The sync driver flushes as soon as this many rows wait, whatever its
        ``flush_every``, so a write is never split across requests for want of a flush
        and a connector whose records rarely make a row can flush rarely.
        """
        size = getattr(self.load, "batch_size", None)
        return size if isinstance(size, int) and size > 0 else None

    @property
    def counts(self) -> SinkCounts:
        """Loads upsert by natural key, so a row already there counts as written."""
        return SinkCounts(written=self.written, filtered=self._filtered, rejected=self._rejected)

    def add(self, item: ItemT) -> None:
        try:
            entity = self.mapper(item, self.load)
        except SinkError:
            self._rejected += 1
            raise
        except Exception as exc:
            self._rejected += 1
            raise MappingError(
                f"{self._name}: cannot map source record {item.key!r}: {type(exc).__name__}: {exc}",
                key=item.key,
            ) from exc
        if entity is None:
            self._filtered += 1
            return
        self._pending.append((item, entity))

    def flush(self) -> int:
        if not self._pending:
            return 0
        try:
            self._save(self.load)
        except Exception as exc:
            field_errors = getattr(exc, "field_errors", None)
            if isinstance(field_errors, Mapping):
                raise self._validation_error(exc, field_errors) from exc
            raise
        count = len(self._pending)
        self._pending.clear()
        self.written += count
        return count

    def flush_isolating(self) -> IsolatedFlush:
        """Save what is pending; if the batch is rejected, save all but the rejected rows."""
        if not self._pending:
            return IsolatedFlush(0, [])
        items = [item for item, _ in self._pending]
        try:
            self._save(self.load)
        except Exception as exc:
            reason = _rejection(exc)
            if reason is None:
                raise
            if self.fresh_load is None:
                raise SinkError(
                    f"{self._name}: batch rejected and no fresh_load to isolate the rejected rows: {reason}"
                ) from exc
            self.load = self.fresh_load()  # the old Load keeps the rejected entities dirty
            written, rejected = self._bisect(items, reason)
        else:
            written, rejected = len(items), []
        self._pending.clear()
        self.written += written
        self._rejected += len(rejected)
        return IsolatedFlush(written, rejected)

    def close(self) -> None:
        self._pending.clear()

    def _save(self, load: LoadLike) -> None:
        self.retrier.call(load.save_all, step=f"save:{self._name}")

    def _bisect(self, items: list[ItemT], reason: str) -> tuple[int, list[Rejection]]:
        """``items`` were rejected together (for ``reason``): save the good ones, name the bad."""
        if len(items) == 1:
            return 0, [Rejection(items[0].key, f"{self._name}: rejected: {reason}", items[0].cursor)]
        middle = len(items) // 2
        written = 0
        rejected: list[Rejection] = []
        for half in (items[:middle], items[middle:]):
            assert self.fresh_load is not None
            load = self.fresh_load()
            unmappable = self._map_into(load, half)
            rejected.extend(unmappable)
            bad = {r.key for r in unmappable}
            mapped = [item for item in half if item.key not in bad]
            self.isolation_saves += 1
            try:
                self._save(load)
            except Exception as exc:
                why = _rejection(exc)
                if why is None:
                    raise
                more_written, more_rejected = self._bisect(mapped, why)
                written += more_written
                rejected.extend(more_rejected)
            else:
                written += len(mapped)
        return written, rejected

    def _map_into(self, load: LoadLike, items: list[ItemT]) -> list[Rejection]:
        refused = []
        for item in items:
            try:
                self.mapper(item, load)
            except Exception as exc:
                refused.append(
                    Rejection(item.key, f"{self._name}: cannot map: {type(exc).__name__}: {exc}", item.cursor)
                )
        return refused

    def _validation_error(self, exc: Exception, field_errors: Mapping[str, Any]) -> LoadValidationError:
        keys: list[str] = []
        detail: list[str] = []
        for row in getattr(exc, "row_errors", None) or []:
            if not isinstance(row, Mapping):
                continue
            index = next((row[k] for k in ("index", "position", "row") if isinstance(row.get(k), int)), None)
            if index is not None and 0 <= index < len(self._pending):
                key = self._pending[index][0].key
            else:
                key = str(row.get("key", "?"))
            keys.append(key)
            fields = row.get("field_errors") or row.get("errors") or {}
            names = ", ".join(sorted(fields)) if isinstance(fields, Mapping) else str(fields)
            detail.append(f"{key} ({names})")
        if not keys:
            # no per-row detail: name the entities that lack one of the failing fields
            for item, entity in self._pending:
                if any(getattr(entity, f, None) in (None, "") for f in field_errors):
                    keys.append(item.key)
            detail = keys[:]
        if not keys:
            keys = [item.key for item, _ in self._pending]
            detail = keys[:]
        shown = ", ".join(detail[:_SHOW_KEYS]) + (
            f" and {len(detail) - _SHOW_KEYS} more" if len(detail) > _SHOW_KEYS else ""
        )
        fields_text = "; ".join(f"{f}: {m}" for f, m in sorted(field_errors.items()))
        message = (
            f"{self._name}: batch of {len(self._pending)} rejected, nothing saved. "
            f"Failing source records: {shown}. Fields: {fields_text}"
        )
        return LoadValidationError(message, keys=keys, field_errors=field_errors)


def _rejection(exc: Exception) -> str | None:
    """Why the target rejected a batch, or ``None`` when ``exc`` is not a rejection.

    A rejection is the Load's ``ValidationError`` (it carries ``field_errors``) or a
    save Nuntiq answered as ``invalid``; anything else (unreachable, auth, retries
    exhausted) is a fault of the run, not of rows, and is re-raised.
    """
    field_errors = getattr(exc, "field_errors", None)
    if isinstance(field_errors, Mapping):
        fields = "; ".join(f"{f}: {m}" for f, m in sorted(field_errors.items()))
        return f"fields {fields}"[:_REASON_CHARS]
    if isinstance(exc, AdapterError) and exc.kind is FailureClass.INVALID:
        return str(exc)[:_REASON_CHARS]
    return None
