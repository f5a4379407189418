"""The Load pattern: typed entities with dirty tracking, paged reads and batched, atomic-validated writes.

A Load hands out entities (``new()`` or read via ``get_all()``); assigning a field
marks the entity dirty. ``save_all()`` validates EVERY dirty entity before sending
anything -- one bad row rejects the whole batch with a ``ValidationError`` naming the
rows and fields, so there are no partial writes -- then sends only the dirty ones, at
most ``batch_size`` (<= 1000) rows per request. Entities that were sent are clean
again and the Load forgets them, so flushing regularly keeps memory bounded.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, Generic, TypeVar

from lib.objects.exceptions import ValidationError

MAX_BATCH = 1000
REQUIRED = "Required field is missing"
_MAX_ROWS_IN_MESSAGE = 10


@dataclass(frozen=True)
class FieldSpec:
    """Type and constraints of one entity field; checked at save time, not on assignment."""

    kind: type
    required: bool = False
    max_length: int | None = None
    pattern: str | None = None
    read_only: bool = False

    def check(self, value: Any) -> str | None:
        if value is None or (self.kind is str and isinstance(value, str) and not value.strip()):
            return REQUIRED if self.required else None
        if self.kind is bool:
            ok = isinstance(value, bool)
        elif self.kind is int:
            ok = isinstance(value, int) and not isinstance(value, bool)
        else:
            ok = isinstance(value, self.kind)
        if not ok:
            return f"Expected {self.kind.__name__}, got {type(value).__name__}"
        if self.max_length is not None and isinstance(value, str) and len(value) > self.max_length:
            return f"Longer than {self.max_length} characters"
        if self.pattern is not None and isinstance(value, str) and not re.fullmatch(self.pattern, value):
            return f"Does not match {self.pattern}"
        return None


class Entity:
    """A record with declared fields; unknown attribute names fail at once (typo guard)."""

    fields: ClassVar[dict[str, FieldSpec]] = {}
    #: child collection name -> entity class (e.g. "locations" -> Location)
    children: ClassVar[dict[str, type[Entity]]] = {}
    key_field: ClassVar[str | None] = None

    def __init__(self, parent: Entity | None = None, load: BaseLoad[Any] | None = None) -> None:
        object.__setattr__(self, "_values", {})
        object.__setattr__(self, "_parent", parent)
        object.__setattr__(self, "_load", load)
        object.__setattr__(self, "_dirty", False)
        object.__setattr__(self, "_children", {name: [] for name in self.children})

    # -- attribute access --------------------------------------------------------------

    def __getattr__(self, name: str) -> Any:
        values = self.__dict__.get("_values", {})
        if name in type(self).fields:
            return values.get(name)
        if name in type(self).children:
            return list(self.__dict__["_children"][name])
        raise AttributeError(f"{type(self).__name__} has no field {name!r}")

    def __setattr__(self, name: str, value: Any) -> None:
        spec = type(self).fields.get(name)
        if spec is None:
            known = ", ".join(n for n, s in type(self).fields.items() if not s.read_only)
            raise AttributeError(f"{type(self).__name__} has no field {name!r} (fields: {known})")
        if spec.read_only:
            raise AttributeError(f"{type(self).__name__}.{name} is read-only")
        self._values[name] = value
        self._mark_dirty()

    def __repr__(self) -> str:
        shown = ", ".join(f"{k}={v!r}" for k, v in self._values.items())
        return f"{type(self).__name__}({shown})"

    # -- dirty tracking ------------------------------------------------------------------

    @property
    def is_dirty(self) -> bool:
        return bool(self.__dict__["_dirty"])

    def _mark_dirty(self) -> None:
        root: Entity = self
        while root._parent is not None:
            root = root._parent
        if not root.__dict__["_dirty"]:
            object.__setattr__(root, "_dirty", True)
            if root._load is not None:
                root._load._track(root)

    def _mark_clean(self) -> None:
        object.__setattr__(self, "_dirty", False)

    def _add_child(self, name: str) -> Any:
        child = type(self).children[name](parent=self)
        self._children[name].append(child)
        self._mark_dirty()
        return child

    # -- (de)serialisation ------------------------------------------------------------

    @property
    def key(self) -> Any:
        return self._values.get(self.key_field) if self.key_field else None

    def validate(self, prefix: str = "") -> dict[str, str]:
        """Field path -> message for every problem (children as ``locations[0].location_code``)."""
        errors: dict[str, str] = {}
        for name, spec in type(self).fields.items():
            if spec.read_only:
                continue
            problem = spec.check(self._values.get(name))
            if problem:
                errors[f"{prefix}{name}"] = problem
        for name, items in self._children.items():
            for index, child in enumerate(items):
                errors.update(child.validate(f"{prefix}{name}[{index}]."))
        return errors

    def to_payload(self) -> dict[str, Any]:
        """The fields that were set (so an upsert does not blank fields it was not given)."""
        payload = {
            name: value for name, value in self._values.items() if not type(self).fields[name].read_only
        }
        for name, items in self._children.items():
            if items:
                payload[name] = [child.to_payload() for child in items]
        return payload

    @classmethod
    def from_payload(
        cls, data: Mapping[str, Any], parent: Entity | None = None, load: BaseLoad[Any] | None = None
    ) -> Any:
        entity = cls(parent=parent, load=load)
        for name in cls.fields:
            if name in data:
                entity._values[name] = data[name]
        for name, child_cls in cls.children.items():
            for item in data.get(name) or []:
                entity._children[name].append(child_cls.from_payload(item, parent=entity))
        return entity


E = TypeVar("E", bound=Entity)


class BaseLoad(Generic[E]):
    """Reads and writes one entity type through the customer API."""

    entity_class: type[E]
    path: str
    page_size: int = 100
    batch_size: int = MAX_BATCH
    #: plural noun for messages ("suppliers")
    noun: str = "entities"

    def __init__(self, context: Any, *, page_size: int | None = None, batch_size: int | None = None) -> None:
        self.context = context
        self.api = context.api
        if page_size is not None:
            self.page_size = page_size
        if batch_size is not None:
            self.batch_size = batch_size
        if not 1 <= self.batch_size <= MAX_BATCH:
            raise ValueError(f"batch_size must be between 1 and {MAX_BATCH}")
        self._dirty: dict[int, E] = {}
        #: requests sent by save_all, rows written (for summaries and tests)
        self.requests_sent = 0
        self.rows_saved = 0

    def _track(self, entity: Entity) -> None:
        self._dirty[id(entity)] = entity  # type: ignore[assignment]

    @property
    def dirty_count(self) -> int:
        return len(self._dirty)

    def new(self) -> E:
        entity = self.entity_class(load=self)
        entity._mark_dirty()
        return entity

    def get_all(self, **filters: Any) -> Iterator[E]:
        """Every entity, page by page (``{items, count, page}``), lazily."""
        page = 1
        seen = 0
        while True:
            body = self.api.get(self.path, params={**filters, "page": page, "limit": self.page_size})
            items = (body.get("items") or []) if isinstance(body, dict) else []
            for item in items:
                yield self.entity_class.from_payload(item, load=self)
            seen += len(items)
            count = body.get("count") if isinstance(body, dict) else None
            if not items or (isinstance(count, int) and seen >= count):
                return
            page += 1

    def save_all(self) -> int:
        """Validate all dirty entities, then send them in batches; returns rows sent."""
        pending = list(self._dirty.values())
        if not pending:
            return 0
        self._validate(pending)
        for start in range(0, len(pending), self.batch_size):
            chunk = pending[start : start + self.batch_size]
            self.api.post(self.path, data={"items": [entity.to_payload() for entity in chunk]})
            self.requests_sent += 1
            self.rows_saved += len(chunk)
            for entity in chunk:
                entity._mark_clean()
                self._dirty.pop(id(entity), None)
        return len(pending)

    def _validate(self, pending: list[E]) -> None:
        row_errors: list[dict[str, Any]] = []
        for index, entity in enumerate(pending):
            problems = entity.validate()
            if problems:
                row_errors.append({"row": index, "key": entity.key, "field_errors": problems})
        if not row_errors:
            return
        merged: dict[str, str] = {}
        for row in row_errors:
            for field, problem in row["field_errors"].items():
                merged.setdefault(field, problem)
        key_name = self.entity_class.key_field or "key"
        described = [
            f"row {row['row']} ({key_name}={row['key']!r}): "
            + ", ".join(f"{f}: {p}" for f, p in row["field_errors"].items())
            for row in row_errors[:_MAX_ROWS_IN_MESSAGE]
        ]
        more = len(row_errors) - _MAX_ROWS_IN_MESSAGE
        if more > 0:
            described.append(f"... and {more} more")
        message = (
            f"{len(row_errors)} of {len(pending)} {self.noun} failed validation, nothing was saved: "
            + "; ".join(described)
        )
        raise ValidationError(message, field_errors=merged, row_errors=row_errors)
