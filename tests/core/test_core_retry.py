"""The retry policy with a fake clock, and the Nuntiq error classifier."""

from __future__ import annotations

import email.utils
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from core_fakes import FakeApiError
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from adapters.failures import AdapterError, Failure, FailureClass, RetriesExhausted, parse_retry_after
from adapters.nuntiq.classifier import classify_nuntiq_error
from adapters.retry import Retrier, RetryPolicy
from lib.jobcontext import FakeClock, RecordingLogger

NOW = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)


class Boom(Exception):
    def __init__(
        self, kind: FailureClass | None, retry_after: float | None = None, status: int | None = 503
    ) -> None:
        super().__init__(f"boom {kind}")
        self.kind = kind
        self.retry_after = retry_after
        self.status = status


def classify(exc: BaseException) -> Failure | None:
    if isinstance(exc, Boom) and exc.kind is not None:
        return Failure(exc.kind, "the source said no", status=exc.status, retry_after=exc.retry_after)
    return None


def failing(errors: list[BaseException], result: Any = "ok") -> Callable[[], Any]:
    calls = {"n": 0}

    def fn() -> Any:
        calls["n"] += 1
        if errors:
            raise errors.pop(0)
        return result

    fn.calls = calls  # type: ignore[attr-defined]
    return fn


def retrier(time: FakeClock, *, logger: Any = None, rand: float = 0.5, **policy: Any) -> Retrier:
    return Retrier(
        classify,
        source="acme",
        logger=logger,
        policy=RetryPolicy(**policy),
        sleep=time.sleep,
        clock=time.clock,
        rand=lambda: rand,
    )


def test_transient_failures_retry_with_exponential_backoff() -> None:
    time = FakeClock()
    fn = failing([Boom(FailureClass.TRANSIENT), Boom(FailureClass.TRANSIENT), Boom(FailureClass.TRANSIENT)])
    assert retrier(time, initial_wait=1, multiplier=2).call(fn, step="list") == "ok"
    assert time.sleeps == [1.0, 2.0, 4.0]  # rand 0.5 = no jitter offset


def test_retry_after_is_honoured_and_jitter_never_shortens_it() -> None:
    time = FakeClock()
    fn = failing([Boom(FailureClass.RATE_LIMITED, retry_after=7, status=429)] * 2)
    retrier(time, rand=0.0, initial_wait=1).call(fn, step="list")
    assert time.sleeps == [7.0, 7.0]


def test_retry_after_http_date_form() -> None:
    when = email.utils.format_datetime(NOW + timedelta(seconds=42), usegmt=True)
    seconds = parse_retry_after(when, now=NOW)
    assert seconds == 42
    time = FakeClock()
    fn = failing([Boom(FailureClass.RATE_LIMITED, retry_after=seconds, status=429)])
    retrier(time).call(fn, step="list")
    assert time.sleeps == [42.0]


@settings(max_examples=200, deadline=None)
@given(
    retry_after=st.floats(0, 30),
    draw=st.floats(0, 0.999),
    attempts=st.integers(1, 5),
    jitter=st.floats(0, 1),
)
def test_wait_is_never_below_retry_after_nor_above_max_wait(
    retry_after: float, draw: float, attempts: int, jitter: float
) -> None:
    time = FakeClock()
    fn = failing([Boom(FailureClass.RATE_LIMITED, retry_after=retry_after, status=429)] * attempts)
    r = retrier(time, rand=draw, jitter=jitter, max_wait=30, max_total=10_000, max_attempts=10)
    r.call(fn, step="s")
    assert len(time.sleeps) == attempts
    assert all(retry_after <= w <= 30 for w in time.sleeps)


def test_each_wait_capped_by_max_wait() -> None:
    time = FakeClock()
    fn = failing([Boom(FailureClass.TRANSIENT)] * 5)
    retrier(time, initial_wait=10, multiplier=10, max_wait=15, max_total=1000, rand=0.99).call(fn, step="s")
    assert time.sleeps and max(time.sleeps) == 15


def test_retry_after_above_max_wait_gives_up_without_sleeping() -> None:
    time = FakeClock()
    fn = failing([Boom(FailureClass.RATE_LIMITED, retry_after=3600, status=429)])
    with pytest.raises(RetriesExhausted) as caught:
        retrier(time, max_wait=60).call(fn, step="s")
    assert time.sleeps == []
    text = str(caught.value)
    assert "rate_limited" in text and "429" in text and "max_wait" in text and "acme" in text
    assert isinstance(caught.value.__cause__, Boom)


def test_total_time_is_bounded() -> None:
    time = FakeClock()
    fn = failing([Boom(FailureClass.TRANSIENT)] * 100)
    with pytest.raises(RetriesExhausted, match="max_total"):
        retrier(time, initial_wait=5, multiplier=1.5, max_wait=20, max_total=60, max_attempts=100).call(
            fn, step="s"
        )
    assert sum(time.sleeps) <= 60
    assert time.now <= 60


def test_retry_after_that_would_pass_max_total_gives_up_now() -> None:
    time = FakeClock()
    fn = failing([Boom(FailureClass.RATE_LIMITED, retry_after=40, status=429)] * 3)
    with pytest.raises(RetriesExhausted):
        retrier(time, max_wait=50, max_total=60).call(fn, step="s")
    assert time.sleeps == [40.0]


def test_max_attempts_names_class_and_last_status() -> None:
    time = FakeClock()
    fn = failing([Boom(FailureClass.TRANSIENT, status=502), Boom(FailureClass.TRANSIENT, status=504)] * 3)
    with pytest.raises(RetriesExhausted) as caught:
        retrier(time, max_attempts=2).call(fn, step="s")
    assert caught.value.kind is FailureClass.TRANSIENT and caught.value.failure.status == 504
    assert caught.value.attempts == 2 and "504" in str(caught.value)


@pytest.mark.parametrize(
    "kind", [FailureClass.AUTH, FailureClass.INVALID, FailureClass.NOT_FOUND, FailureClass.QUOTA]
)
def test_non_retryable_fails_on_first_attempt(kind: FailureClass) -> None:
    time = FakeClock()
    original = Boom(kind, status=401)
    fn = failing([original])
    with pytest.raises(AdapterError) as caught:
        retrier(time).call(fn, step="s")
    assert not isinstance(caught.value, RetriesExhausted)
    assert caught.value.kind is kind and caught.value.__cause__ is original
    assert fn.calls["n"] == 1 and time.sleeps == []  # type: ignore[attr-defined]


def test_unclassified_exceptions_propagate_unchanged() -> None:
    time = FakeClock()
    original = KeyError("nope")
    fn = failing([original])
    with pytest.raises(KeyError) as caught:
        retrier(time).call(fn, step="s")
    assert caught.value is original and time.sleeps == []


def test_non_retryable_after_retries() -> None:
    time = FakeClock()
    fn = failing([Boom(FailureClass.TRANSIENT), Boom(FailureClass.INVALID, status=400)])
    with pytest.raises(AdapterError) as caught:
        retrier(time).call(fn, step="s")
    assert caught.value.kind is FailureClass.INVALID and len(time.sleeps) == 1


def test_every_retry_is_logged_with_step_and_detail() -> None:
    time, logger = FakeClock(), RecordingLogger()
    fn = failing(
        [Boom(FailureClass.TRANSIENT, status=503), Boom(FailureClass.RATE_LIMITED, retry_after=3, status=429)]
    )
    retrier(time, logger=logger).call(fn, step="list_files")
    warns = logger.of("warn")
    assert len(warns) == 2
    for (_, message, step, detail), status in zip(warns, (503, 429), strict=True):
        assert step == "list_files" and detail is not None
        assert detail["status"] == status and detail["failure"] in ("transient", "rate_limited")
        assert {"attempt", "wait"} <= set(detail) and "acme" in message
    assert warns[0][3]["attempt"] == 1 and warns[1][3]["attempt"] == 2  # type: ignore[index]
    assert warns[1][3]["wait"] == 3  # type: ignore[index]


def test_policy_validation_and_defaults_fit_a_15_minute_job() -> None:
    policy = RetryPolicy()
    assert policy.max_total <= 600 and policy.max_wait <= policy.max_total
    worst = sum(min(policy.max_wait, policy.backoff(n, 0.999)) for n in range(1, policy.max_attempts))
    assert worst <= policy.max_total
    with pytest.raises(ValidationError):
        RetryPolicy(max_wait=100, max_total=10)
    with pytest.raises(ValidationError):
        RetryPolicy(max_attempts=0)


# -- Nuntiq classifier ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "kind"),
    [
        (0, FailureClass.TRANSIENT),
        (500, FailureClass.TRANSIENT),
        (502, FailureClass.TRANSIENT),
        (503, FailureClass.TRANSIENT),
        (429, FailureClass.RATE_LIMITED),
        (401, FailureClass.AUTH),
        (403, FailureClass.AUTH),
        (404, FailureClass.NOT_FOUND),
        (400, FailureClass.INVALID),
        (422, FailureClass.INVALID),
    ],
)
def test_nuntiq_classes(status: int, kind: FailureClass) -> None:
    failure = classify_nuntiq_error(FakeApiError(status, '{"message": "server says"}'))
    assert failure is not None and failure.kind is kind
    if status:
        assert failure.status == status and "server says" in failure.message


def test_nuntiq_auth_has_hint_and_unknown_errors_are_not_classified() -> None:
    failure = classify_nuntiq_error(FakeApiError(401, ""))
    assert failure is not None and failure.hint and "token" in failure.hint
    assert classify_nuntiq_error(ValueError("x")) is None
    assert classify_nuntiq_error(KeyError("status_code")) is None


def test_nuntiq_retry_after_from_body_or_attribute() -> None:
    failure = classify_nuntiq_error(FakeApiError(429, '{"message": "slow down", "retry_after": 12}'))
    assert failure is not None and failure.retry_after == 12
    error = FakeApiError(429, "")
    error.headers = {"Retry-After": "5"}  # type: ignore[attr-defined]
    failure = classify_nuntiq_error(error)
    assert failure is not None and failure.retry_after == 5
    failure = classify_nuntiq_error(FakeApiError(429, "not json"))
    assert failure is not None and failure.retry_after is None and failure.message == "not json"


def test_nuntiq_error_through_retrier() -> None:
    time = FakeClock()
    fn = failing([FakeApiError(0), FakeApiError(503, "{}"), FakeApiError(401, "{}")])
    r = Retrier(classify_nuntiq_error, source="nuntiq", sleep=time.sleep, clock=time.clock)
    with pytest.raises(AdapterError) as caught:
        r.call(fn, step="ledger_write")
    assert caught.value.kind is FailureClass.AUTH and len(time.sleeps) == 2
