"""The one retry policy every adapter uses.

Each source's SDK has its own retry loop with its own defaults (a fixed one-second sleep
that retries POSTs; an hour of backoff that ignores ``Retry-After``). Those are switched
off and this policy runs instead, so behaviour is the same for every source and a
15-minute job cannot hang in a retry loop:

* only ``transient`` and ``rate_limited`` failures are retried (the class comes from the
  source's classifier; exceptions it does not recognise propagate unchanged);
* each wait is ``max(Retry-After, jittered exponential)``: jitter spreads clients out but
  never makes us call back earlier than the server asked;
* every single wait is capped by ``max_wait`` and the whole call by ``max_total``; when the
  server asks for longer than either allows, we give up at once instead of sleeping past
  the cap, because the run would be killed anyway and the next run retries the window;
* every retry is logged through the context logger with ``step`` and ``detail``.

Built on tenacity (``Retrying`` with our own retry/wait/stop/before_sleep), with ``sleep``
and ``clock`` injectable so tests run without real waiting.
"""

from __future__ import annotations

import dataclasses
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TypeVar

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError, model_validator
from tenacity import RetryCallState, Retrying

from adapters import progress
from adapters.budget import Budget, budget_of
from adapters.failures import AdapterError, Classifier, Failure, RetriesExhausted
from adapters.progress import EventKind, ProgressEvent
from adapters.runtime import ContextLike, LoggerLike

__all__ = ["Retrier", "RetryPolicy"]

T = TypeVar("T")


class RetryPolicy(BaseModel):
    """Limits of the retry loop; the defaults keep one call well inside a 15-minute job.

    Worst case with the defaults: 6 attempts, waits 1, 2, 4, 8, 16 s (+ jitter) or what
    ``Retry-After`` asks for up to 60 s each, never more than 5 minutes in total.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    max_attempts: int = Field(default=6, ge=1, description="attempts including the first")
    initial_wait: float = Field(default=1.0, ge=0, description="seconds before the first retry")
    multiplier: float = Field(default=2.0, ge=1, description="growth factor of the exponential wait")
    max_wait: float = Field(default=60.0, gt=0, description="cap on every single wait, seconds")
    max_total: float = Field(default=300.0, gt=0, description="cap on the time spent in one call, seconds")
    jitter: float = Field(default=0.25, ge=0, le=1, description="relative spread of the exponential wait")
    #: the job's time budget (see :mod:`adapters.budget`): no wait may run past it
    _budget: Budget | None = PrivateAttr(default=None)

    @model_validator(mode="after")
    def _caps_consistent(self) -> RetryPolicy:
        if self.max_wait > self.max_total:
            raise ValueError(f"max_wait ({self.max_wait}) must not exceed max_total ({self.max_total})")
        return self

    @classmethod
    def from_context(cls, context: ContextLike) -> RetryPolicy:
        """The policy in ``config.retry`` of the job's settings, or the defaults.

        One setting for every call a connector makes, so an operator can tighten or
        loosen retries per connector instance without code, e.g.
        ``"retry": {"max_total": 60, "max_wait": 10}``. Unknown keys and bad values are
        refused with a message naming them, before any call is made.
        """
        raw = context.get_config("retry")
        if raw is not None and not isinstance(raw, Mapping):
            raise ValueError(f"config.retry must be an object of retry settings, got {raw!r:.80}")
        try:
            policy = cls() if raw is None else cls.model_validate(dict(raw))
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in error['loc']) or 'retry'}: {error['msg']}"
                for error in exc.errors()
            )
            raise ValueError(f"config.retry is not valid: {problems}") from None
        return policy.within(budget_of(context))

    def within(self, budget: Budget | None) -> RetryPolicy:
        """This policy, with every wait also capped by what is left of ``budget``."""
        capped = self.model_copy()
        capped._budget = budget
        return capped

    def budget_left(self) -> float | None:
        """Seconds left in the job's time budget, or None when the policy has none."""
        return self._budget.remaining() if self._budget is not None else None

    def backoff(self, attempt: int, draw: float) -> float:
        """Jittered exponential wait after failed attempt number ``attempt`` (1-based).

        ``draw`` is a uniform number in [0, 1); the result lies within ``+-jitter`` of the
        plain exponential value.
        """
        base = self.initial_wait * self.multiplier ** (attempt - 1)
        return max(0.0, base * (1.0 + self.jitter * (2.0 * draw - 1.0)))


@dataclass
class _CallState:
    started: float
    failure: Failure | None = None
    give_up_reason: str | None = None


#: the wait of every Retrier built without an explicit ``sleep``; a module attribute so
#: the test kit (``adapters.testing``) can replay recorded retries without waiting
default_sleep: Callable[[float], None] = time.sleep


def _classifies_nothing(exc: BaseException) -> Failure | None:
    return None


def _no_wait(seconds: float) -> None:
    return None


class Retrier:
    """Runs calls to one source under :class:`RetryPolicy`.

    ``classifier`` maps the source's exceptions to :class:`~adapters.failures.Failure`;
    ``source`` names the source in messages. ``sleep``, ``clock`` and ``rand`` are
    injectable for tests.
    """

    def __init__(
        self,
        classifier: Classifier,
        *,
        source: str,
        logger: LoggerLike | None = None,
        policy: RetryPolicy | None = None,
        sleep: Callable[[float], None] | None = None,
        clock: Callable[[], float] = time.monotonic,
        rand: Callable[[], float] = random.random,
    ) -> None:
        self.classifier = classifier
        self.source = source
        self.logger = logger
        self.policy = policy or RetryPolicy()
        self._sleep = sleep if sleep is not None else default_sleep
        self._clock = clock
        self._rand = rand

    @classmethod
    def for_context(cls, context: ContextLike, classifier: Classifier, *, source: str) -> Retrier:
        """The usual wiring: ``classifier`` under the job's ``config.retry``, retries logged to the job.

        Every retrier a connector uses comes from here (directly or through a
        ``for_context`` of the source or sink that owns it), so ``config.retry`` and the
        job's time budget shape every retry; bad retry settings are refused before any call.
        """
        return cls(classifier, source=source, logger=context.logger, policy=RetryPolicy.from_context(context))

    @classmethod
    def direct(cls, source: str = "direct") -> Retrier:
        """A retrier that calls once and never waits: exceptions pass through unchanged.

        For code that is handed a retrier but must not retry (unit tests of a sink or a
        source, a call already retried by its caller), instead of an optional retrier
        and a branch for its absence in every user.
        """
        return cls(_classifies_nothing, source=source, policy=RetryPolicy(max_attempts=1), sleep=_no_wait)

    def call(self, fn: Callable[[], T], *, step: str) -> T:
        """Call ``fn()`` until it succeeds, a non-retryable failure occurs, or a cap is hit.

        Raises :class:`AdapterError` (chained from the original) for a classified failure
        that is not retryable, on the first attempt; :class:`RetriesExhausted` when a
        retryable failure outlasts the policy; anything the classifier does not recognise
        propagates unchanged.
        """
        state = _CallState(started=self._clock())
        policy = self.policy

        def should_retry(rs: RetryCallState) -> bool:
            outcome = rs.outcome
            if outcome is None or not outcome.failed:
                return False
            failure = self._classify(outcome.exception())
            state.failure = failure
            return failure is not None and failure.kind.retryable

        def wait(rs: RetryCallState) -> float:
            failure = state.failure
            assert failure is not None
            backoff = policy.backoff(rs.attempt_number, self._rand())
            asked = failure.retry_after
            if asked is not None and asked > policy.max_wait:
                state.give_up_reason = f"server asked to wait {asked:g}s, above max_wait {policy.max_wait:g}s"
                return 0.0
            chosen = min(max(asked or 0.0, backoff), policy.max_wait)
            left = policy.budget_left()
            if left is not None and chosen > left:
                state.give_up_reason = (
                    f"waiting {chosen:.1f}s would pass the run's time budget ({max(left, 0.0):.1f}s left)"
                )
                return 0.0
            elapsed = self._clock() - state.started
            if elapsed + chosen > policy.max_total:
                state.give_up_reason = (
                    f"waiting {chosen:.1f}s more would pass max_total {policy.max_total:g}s "
                    f"({elapsed:.1f}s spent)"
                )
                return 0.0
            return chosen

        def stop(rs: RetryCallState) -> bool:
            if state.give_up_reason is not None:
                return True
            if rs.attempt_number >= policy.max_attempts:
                state.give_up_reason = f"max_attempts {policy.max_attempts} reached"
                return True
            return False

        def before_sleep(rs: RetryCallState) -> None:
            if progress.active():
                progress.emit(ProgressEvent(EventKind.RETRY, source=self.source, seconds=rs.upcoming_sleep))
            failure = state.failure
            if self.logger is None or failure is None:
                return
            status = f" (status {failure.status})" if failure.status is not None else ""
            self.logger.warn(
                f"{self.source}: {failure.kind.value}{status} during {step}; "
                f"retrying in {rs.upcoming_sleep:.1f}s (attempt {rs.attempt_number + 1} "
                f"of {policy.max_attempts})",
                step=step,
                detail={
                    "source": self.source,
                    "attempt": rs.attempt_number,
                    "failure": failure.kind.value,
                    "status": failure.status,
                    "wait": round(rs.upcoming_sleep, 3),
                    "retry_after": failure.retry_after,
                },
            )

        def exhausted(rs: RetryCallState) -> T:
            outcome = rs.outcome
            assert outcome is not None and state.failure is not None
            original = outcome.exception()
            failure = dataclasses.replace(
                state.failure, message=f"{state.failure.message}; {state.give_up_reason}"
            )
            error = RetriesExhausted(self.source, failure, attempts=rs.attempt_number)
            if self.logger is not None:
                self.logger.warn(
                    f"{self.source}: giving up during {step}: {state.give_up_reason}",
                    step=step,
                    detail={
                        "source": self.source,
                        "attempt": rs.attempt_number,
                        "failure": failure.kind.value,
                        "status": failure.status,
                    },
                )
            raise error from original

        retrying = Retrying(
            retry=should_retry,
            wait=wait,
            stop=stop,
            before_sleep=before_sleep,
            retry_error_callback=exhausted,
            sleep=self._sleep,
            reraise=True,
        )
        try:
            return retrying(fn)
        except AdapterError:  # ours (RetriesExhausted), or a nested call's: already classified
            raise
        except Exception as exc:
            failure = state.failure if state.failure is not None else self._classify(exc)
            if failure is None or failure.kind.retryable:
                raise
            attempts = int(retrying.statistics.get("attempt_number", 1))
            raise AdapterError(self.source, failure, attempts=attempts) from exc

    def _classify(self, exc: BaseException | None) -> Failure | None:
        if exc is None or isinstance(exc, AdapterError):
            return None
        return self.classifier(exc)
