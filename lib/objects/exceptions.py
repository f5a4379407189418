"""Exceptions raised by the Load classes (the ``ConnectFxError`` family).

``ApiError`` (in :mod:`lib.api_client`) is deliberately *not* part of this family:
the framework keeps transport failures and client-side validation apart, and
connectors catch them separately.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any


class ConnectFxError(Exception):
    """Base of the errors raised by the framework's object layer."""


class ValidationError(ConnectFxError):
    """A Load rejected entities before any HTTP call was made.

    ``field_errors`` maps field name -> message (the shape the framework documents).
    ``row_errors`` says which rows were bad: one entry per rejected entity with its
    position among the entities being saved, its key (e.g. the supplier number, when
    set) and that entity's own field errors, so a caller can name the failing
    source records.
    """

    def __init__(
        self,
        message: str,
        field_errors: Mapping[str, str] | None = None,
        row_errors: Sequence[Mapping[str, Any]] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.field_errors: dict[str, str] = dict(field_errors or {})
        self.row_errors: list[dict[str, Any]] = [dict(r) for r in row_errors or []]


class NotFoundError(ConnectFxError):
    """A lookup found no matching record (most ``get_*`` helpers return ``None`` instead)."""


class AuthError(ConnectFxError):
    """Authentication problem detected on the client side (most surface as ``ApiError(401)``)."""
