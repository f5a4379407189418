"""One status table: the default classes, each integration's overrides, own exceptions."""

from __future__ import annotations

import pytest

from adapters.codat.errors import CODAT_STATUS_TABLE
from adapters.connect.errors import CONNECT_STATUS_TABLE, ConnectPageError, classify_connect_error
from adapters.failures import ClassifiedError, FailureClass, with_own_errors
from adapters.http_status import DEFAULT_STATUS_TABLE, StatusTable

T = FailureClass


@pytest.mark.parametrize(
    ("status", "kind"),
    [
        (400, T.INVALID),
        (401, T.AUTH),
        (402, T.INVALID),
        (403, T.AUTH),
        (404, T.NOT_FOUND),
        (408, T.TRANSIENT),
        (409, T.INVALID),
        (422, T.INVALID),
        (425, T.INVALID),
        (429, T.RATE_LIMITED),
        (500, T.TRANSIENT),
        (502, T.TRANSIENT),
        (503, T.TRANSIENT),
        (599, T.TRANSIENT),
        (200, None),
        (304, None),
    ],
)
def test_default_table(status: int, kind: FailureClass | None) -> None:
    assert DEFAULT_STATUS_TABLE.lookup(status) is kind


def test_overrides_change_only_their_status() -> None:
    assert CODAT_STATUS_TABLE.lookup(402) is T.QUOTA
    assert CONNECT_STATUS_TABLE.lookup(425) is T.TRANSIENT
    for status in (400, 401, 404, 429, 503):
        assert CODAT_STATUS_TABLE.lookup(status) is DEFAULT_STATUS_TABLE.lookup(status)
        assert CONNECT_STATUS_TABLE.lookup(status) is DEFAULT_STATUS_TABLE.lookup(status)
    assert CONNECT_STATUS_TABLE.lookup(402) is T.INVALID and CODAT_STATUS_TABLE.lookup(425) is T.INVALID


def test_overrides_stack_and_do_not_touch_the_base() -> None:
    base = StatusTable({418: T.TRANSIENT})
    stacked = base.with_overrides({404: T.INVALID})
    assert stacked.lookup(418) is T.TRANSIENT and stacked.lookup(404) is T.INVALID
    assert base.lookup(404) is T.NOT_FOUND


def test_failure_keeps_retry_after_only_when_retryable_and_picks_the_hint() -> None:
    hints = {T.AUTH: "check secret x"}
    limited = DEFAULT_STATUS_TABLE.failure(429, "slow down", retry_after=7, hints=hints)
    assert (limited.kind, limited.retry_after, limited.hint) == (T.RATE_LIMITED, 7, None)
    refused = DEFAULT_STATUS_TABLE.failure(401, "no", retry_after=7, hints=hints)
    assert (refused.kind, refused.retry_after, refused.hint) == (T.AUTH, None, "check secret x")
    assert DEFAULT_STATUS_TABLE.failure(302, "moved").kind is T.INVALID


class _Quota(ClassifiedError):
    failure_class = FailureClass.QUOTA
    hint = "raise the plan"


def test_own_exceptions_carry_their_class_so_classifiers_see_only_foreign_ones() -> None:
    seen: list[BaseException] = []

    def foreign(exc: BaseException) -> None:
        seen.append(exc)
        return None

    classify = with_own_errors(foreign)
    failure = classify(_Quota("limit of 10 companies"))
    assert failure is not None and failure.kind is T.QUOTA and failure.hint == "raise the plan"
    assert "limit of 10 companies" in failure.message
    assert seen == []
    assert classify(KeyError("x")) is None and len(seen) == 1
    page = classify_connect_error(ConnectPageError("Content-Range mismatch"))
    assert page is not None and page.kind is T.INVALID
