"""A sink into a framework Load (``SupplierLoad`` and friends): map, buffer, ``save_all()``.

The mapper gets each item and the Load and fills one entity from ``load.new()``; the
sink calls ``save_all()`` on flush. Loads upsert by their natural key, so re-delivered
items are harmless. A ``ValidationError`` from the Load (which rejects the whole batch
before any HTTP call) is re-raised as :class:`LoadValidationError` naming the failing
source keys and fields, so the run fails, the cursor stays and the log says which
records to fix.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, Generic, Protocol, TypeVar

from adapters.nuntiq.retrier import nuntiq_retrier
from adapters.records import DocumentItem, RecordItem
from adapters.retry import Retrier, RetryPolicy
from adapters.runtime import ContextLike
from adapters.sinks.base import SinkError

__all__ = ["LoadLike", "LoadSink", "LoadValidationError", "MappingError"]

ItemT = TypeVar("ItemT", RecordItem, DocumentItem, RecordItem | DocumentItem)

_SHOW_KEYS = 20


class LoadLike(Protocol):
    """The part of a framework Load the sink uses."""

    def new(self) -> Any: ...

    def save_all(self) -> Any: ...


#: ``mapper(item, load)`` fills an entity from ``load.new()`` and returns it, or returns
#: ``None`` without calling ``new()`` to skip the item
Mapper = Callable[[ItemT, Any], Any]


class MappingError(SinkError):
    """The mapper failed on an item (a field missing or malformed in the source record)."""


class LoadValidationError(SinkError):
    """The Load rejected a batch; ``keys`` are the failing source keys, ``field_errors`` the fields."""

    def __init__(self, message: str, *, keys: Sequence[str], field_errors: Mapping[str, Any]) -> None:
        super().__init__(message)
        self.keys = list(keys)
        self.field_errors = dict(field_errors)


class LoadSink(Generic[ItemT]):
    """Buffers mapped entities in ``load`` and saves them on ``flush()``."""

    def __init__(
        self,
        load: LoadLike,
        mapper: Mapper[ItemT],
        *,
        name: str | None = None,
        retrier: Retrier | None = None,
    ) -> None:
        self.load = load
        self.mapper: Callable[[ItemT, Any], Any] = mapper
        self._name = name or type(load).__name__
        self.retrier = retrier
        self._pending: list[tuple[str, Any]] = []  # (source key, entity)
        self._skipped = 0
        self.written = 0

    @classmethod
    def for_context(
        cls,
        context: ContextLike,
        load: LoadLike,
        mapper: Mapper[ItemT],
        *,
        name: str | None = None,
        policy: RetryPolicy | None = None,
    ) -> LoadSink[ItemT]:
        """The usual wiring: saves retried under the shared policy, retries logged.

        Load saves are upserts (by the entity's natural key), so sending a batch again
        after a transient failure cannot duplicate rows.
        """
        retrier = nuntiq_retrier(context, policy)
        return cls(load, mapper, name=name, retrier=retrier)

    @property
    def name(self) -> str:
        return self._name

    @property
    def pending(self) -> int:
        return len(self._pending)

    @property
    def skipped(self) -> int:
        return self._skipped

    def add(self, item: ItemT) -> None:
        try:
            entity = self.mapper(item, self.load)
        except SinkError:
            raise
        except Exception as exc:
            raise MappingError(
                f"{self._name}: cannot map source record {item.key!r}: {type(exc).__name__}: {exc}"
            ) from exc
        if entity is None:
            self._skipped += 1
            return
        self._pending.append((item.key, entity))

    def flush(self) -> int:
        if not self._pending:
            return 0
        try:
            if self.retrier is not None:
                self.retrier.call(self.load.save_all, step=f"save:{self._name}")
            else:
                self.load.save_all()
        except Exception as exc:
            field_errors = getattr(exc, "field_errors", None)
            if isinstance(field_errors, Mapping):
                raise self._validation_error(exc, field_errors) from exc
            raise
        count = len(self._pending)
        self._pending.clear()
        self.written += count
        return count

    def close(self) -> None:
        self._pending.clear()

    def _validation_error(self, exc: Exception, field_errors: Mapping[str, Any]) -> LoadValidationError:
        keys: list[str] = []
        detail: list[str] = []
        for row in getattr(exc, "row_errors", None) or []:
            if not isinstance(row, Mapping):
                continue
            index = next((row[k] for k in ("index", "position", "row") if isinstance(row.get(k), int)), None)
            if index is not None and 0 <= index < len(self._pending):
                key = self._pending[index][0]
            else:
                key = str(row.get("key", "?"))
            keys.append(key)
            fields = row.get("field_errors") or row.get("errors") or {}
            names = ", ".join(sorted(fields)) if isinstance(fields, Mapping) else str(fields)
            detail.append(f"{key} ({names})")
        if not keys:
            # no per-row detail: name the entities that lack one of the failing fields
            for key, entity in self._pending:
                if any(getattr(entity, f, None) in (None, "") for f in field_errors):
                    keys.append(key)
            detail = keys[:]
        if not keys:
            keys = [key for key, _ in self._pending]
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
