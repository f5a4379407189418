"""One table from HTTP status to failure class, shared by every integration.

Connect, Codat, Nuntiq and the REST kit all meet the same statuses, and each used to
carry its own ``if status == ...`` chain that differed in small, unexplained ways.
Now there is one default table; an integration states only where its API differs
(Codat answers 402 for an account limit, Connect 425 for a request sent too early),
so the differences are visible in one line each.

Statuses below 400 are not failures by status: :meth:`StatusTable.lookup` returns
``None`` for them and the caller decides (an unreadable 200 is a different problem).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from adapters.failures import Failure, FailureClass

__all__ = ["DEFAULT_STATUS_CLASSES", "DEFAULT_STATUS_TABLE", "StatusTable"]

#: statuses whose class is not simply "4xx = invalid, 5xx = transient"
DEFAULT_STATUS_CLASSES: Mapping[int, FailureClass] = MappingProxyType(
    {
        401: FailureClass.AUTH,  # credentials missing or wrong
        403: FailureClass.AUTH,  # credentials lack rights for this resource
        404: FailureClass.NOT_FOUND,
        408: FailureClass.TRANSIENT,  # the server timed out waiting for us
        429: FailureClass.RATE_LIMITED,
    }
)


@dataclass(frozen=True)
class StatusTable:
    """The default table plus one integration's ``overrides`` (status -> class)."""

    overrides: Mapping[int, FailureClass] = field(default_factory=dict)

    def with_overrides(self, overrides: Mapping[int, FailureClass]) -> StatusTable:
        return StatusTable({**self.overrides, **overrides})

    def lookup(self, status: int) -> FailureClass | None:
        """The class of ``status``: override, then default entry, then its range (None below 400)."""
        if status in self.overrides:
            return self.overrides[status]
        if status in DEFAULT_STATUS_CLASSES:
            return DEFAULT_STATUS_CLASSES[status]
        if status >= 500:
            return FailureClass.TRANSIENT
        if status >= 400:
            return FailureClass.INVALID
        return None

    def failure(
        self,
        status: int,
        message: str,
        *,
        retry_after: float | None = None,
        hints: Mapping[FailureClass, str] | None = None,
        otherwise: FailureClass = FailureClass.INVALID,
    ) -> Failure:
        """A :class:`Failure` for ``status``; ``otherwise`` for statuses the table leaves open.

        ``retry_after`` is kept only for retryable classes (a ``Retry-After`` on a 400 means
        nothing to the policy); ``hints`` gives the hint per class, e.g. which secret to check.
        """
        kind = self.lookup(status) or otherwise
        return Failure(
            kind,
            message,
            status,
            retry_after if kind.retryable else None,
            hint=(hints or {}).get(kind),
        )


DEFAULT_STATUS_TABLE = StatusTable()
