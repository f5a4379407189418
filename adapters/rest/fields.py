"""Dotted paths into JSON bodies (``"data"``, ``"meta.next"``, ``"address.city"``)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["MISSING", "get_path"]

#: returned for a path that does not exist, so ``None`` (JSON null) stays a real value
MISSING: Any = object()


def get_path(value: Any, path: str) -> Any:
    """The value at ``path`` (empty path: ``value`` itself), or :data:`MISSING`."""
    if not path:
        return value
    current = value
    for part in path.split("."):
        if not isinstance(current, Mapping) or part not in current:
            return MISSING
        current = current[part]
    return current
