"""Failure classes shared by every adapter, and the errors raised when one ends a run.

Each adapter ships a *classifier*: a function from an exception to a :class:`Failure`
(or ``None`` when the exception is not one it recognises). The single retry policy
in :mod:`adapters.retry` decides what to do from the class alone, so adding a source
never means writing another retry loop.
"""

from __future__ import annotations

import email.utils
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import ClassVar


class FailureClass(StrEnum):
    TRANSIENT = "transient"  # 5xx, timeouts, dropped or refused connections
    RATE_LIMITED = "rate_limited"  # 429, usually with Retry-After
    AUTH = "auth"  # 401/403: a secret is wrong or lacks rights
    INVALID = "invalid"  # 4xx the same request will always get
    NOT_FOUND = "not_found"  # 404: a configured id does not exist
    QUOTA = "quota"  # an account limit: waiting will not help

    @property
    def retryable(self) -> bool:
        return self in (FailureClass.TRANSIENT, FailureClass.RATE_LIMITED)


@dataclass(frozen=True, slots=True)
class Failure:
    """What a classifier says about one exception.

    ``message`` must never contain a secret; classifiers build it from status codes
    and the source's error body, not from request headers.
    """

    kind: FailureClass
    message: str
    status: int | None = None
    retry_after: float | None = None
    hint: str | None = None  # e.g. which secret or setting to check


Classifier = Callable[[BaseException], Failure | None]


class ClassifiedError(Exception):
    """Base of the project's own exceptions: each subclass states its failure class.

    The class travels with the exception, so no integration's classifier has to know
    the project's exceptions: classifiers built with :func:`with_own_errors` answer for
    these first and see only foreign (SDK, transport) exceptions themselves.
    """

    failure_class: ClassVar[FailureClass] = FailureClass.INVALID
    #: what to check, shown with the message (never a secret)
    hint: ClassVar[str | None] = None

    def failure(self) -> Failure:
        return Failure(self.failure_class, str(self), hint=self.hint)


def own_failure(exc: BaseException) -> Failure | None:
    """The failure a :class:`ClassifiedError` carries; ``None`` for any other exception."""
    return exc.failure() if isinstance(exc, ClassifiedError) else None


def with_own_errors(foreign: Classifier) -> Classifier:
    """A classifier that answers for the project's own exceptions, then asks ``foreign``."""

    def classify(exc: BaseException) -> Failure | None:
        own = own_failure(exc)
        return own if own is not None else foreign(exc)

    classify.__doc__ = foreign.__doc__
    classify.__name__ = getattr(foreign, "__name__", "classify")
    return classify


class AdapterError(Exception):
    """A classified failure that ends the run; ``str()`` names the source and the class."""

    def __init__(self, source: str, failure: Failure, *, attempts: int = 1) -> None:
        self.source = source
        self.failure = failure
        self.attempts = attempts
        super().__init__(self._describe())

    @property
    def kind(self) -> FailureClass:
        return self.failure.kind

    def _describe(self) -> str:
        status = f" (status {self.failure.status})" if self.failure.status is not None else ""
        text = f"{self.source}: {self.failure.kind.value}{status}: {self.failure.message}"
        if self.attempts > 1:
            text += f" [gave up after {self.attempts} attempts]"
        if self.failure.hint:
            text += f" - {self.failure.hint}"
        return text


class RetriesExhausted(AdapterError):
    """A retryable failure that kept happening until the policy's caps were reached."""


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or an HTTP date).

    Returns ``None`` for a missing or unparseable header so callers fall back to
    their own backoff instead of failing on a malformed hint.
    """
    if value is None:
        return None
    text = value.strip()
    if not text:
        return None
    try:
        seconds = float(text)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = (when - (now or datetime.now(UTC))).total_seconds()
    return max(0.0, seconds)
