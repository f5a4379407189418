"""Codat's rate-limit headers honoured beyond ``Retry-After``, never past the run's budget.

The sandbox enforces a quota (``PUT /_sandbox/codat/rate-limit``) and sends the
``X-Rate-Limit-*`` headers with ``-Reset`` as an ISO time, a Unix time or seconds, and a
429 with ``Retry-After`` or without. The pull must land every file in each, wait for
the reset the headers name when ``Retry-After`` is absent (not hammer the quota with
short backoffs), and give up rather than sleep past ``max_wait`` or the time budget.
"""

from __future__ import annotations

import copy
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

import adapters.retry
import connectors.codat_pull_files as pull
from adapters.codat.ratelimit import quota_reset_wait, requested_wait
from lib.jobcontext import nuntiq_context
from sandbox.server import RunningServer
from tests.codat.conftest import API_KEY, SMALL_COMPANY, admin_json

# -- reading the headers -------------------------------------------------------------------

DATE = "Sun, 01 Mar 2026 12:00:00 GMT"
SERVER_NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def host_a_day_ahead() -> datetime:
    return SERVER_NOW + timedelta(days=1)


@pytest.mark.parametrize(
    "reset",
    [
        "2026-03-01T12:00:30Z",
        "2026-03-01T12:00:30.000000Z",
        "2026-03-01T13:00:30+01:00",
        str(int((SERVER_NOW + timedelta(seconds=30)).timestamp())),
        str(int((SERVER_NOW + timedelta(seconds=30)).timestamp() * 1000)),
        "30",
        "Sun, 01 Mar 2026 12:00:30 GMT",
    ],
    ids=["iso", "iso_micro", "iso_offset", "epoch", "epoch_ms", "seconds", "http_date"],
)
def test_a_spent_quota_is_waited_out_to_its_reset_by_the_servers_clock(reset: str) -> None:
    headers = httpx.Headers({"Date": DATE, "X-Rate-Limit-Remaining": "0", "X-Rate-Limit-Reset": reset})
    assert quota_reset_wait(headers, clock=host_a_day_ahead) == pytest.approx(30.0)
    assert requested_wait(429, headers, clock=host_a_day_ahead) == pytest.approx(30.0)


def test_without_a_date_header_the_host_clock_measures_the_reset() -> None:
    headers = httpx.Headers({"X-Rate-Limit-Remaining": "0", "X-Rate-Limit-Reset": "2026-03-01T12:00:30Z"})
    assert quota_reset_wait(headers, clock=lambda: SERVER_NOW) == pytest.approx(30.0)
    assert quota_reset_wait(headers, clock=host_a_day_ahead) == 0.0  # in the past: no wait asked


@pytest.mark.parametrize(
    "headers",
    [
        {"Date": DATE, "X-Rate-Limit-Remaining": "12", "X-Rate-Limit-Reset": "2026-03-02T00:00:00Z"},
        {"Date": DATE, "X-Rate-Limit-Reset": "2026-03-02T00:00:00Z"},
        {"Date": DATE, "X-Rate-Limit-Remaining": "0"},
        {"Date": DATE, "X-Rate-Limit-Remaining": "none", "X-Rate-Limit-Reset": "30"},
        {"Date": DATE, "X-Rate-Limit-Remaining": "0", "X-Rate-Limit-Reset": "soon"},
    ],
    ids=["quota_left", "no_remaining", "no_reset", "garbled_remaining", "garbled_reset"],
)
def test_no_wait_is_read_from_headers_that_do_not_say_the_quota_is_spent(headers: dict[str, str]) -> None:
    assert requested_wait(429, httpx.Headers(headers)) is None


def test_retry_after_wins_and_only_a_429_is_waited_to_the_reset() -> None:
    spent = {"Date": DATE, "X-Rate-Limit-Remaining": "0", "X-Rate-Limit-Reset": "30"}
    assert requested_wait(429, httpx.Headers({**spent, "Retry-After": "4"})) == 4.0
    dated = {**spent, "Retry-After": "Sun, 01 Mar 2026 12:00:09 GMT"}
    assert requested_wait(429, httpx.Headers(dated), clock=host_a_day_ahead) == pytest.approx(9.0)
    assert requested_wait(503, httpx.Headers(spent)) is None


# -- the pull against an enforced quota ----------------------------------------------------


_customers = iter(range(21000001, 21009999))


@pytest.fixture
def waits(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """Every retry wait, really slept (the sandbox's window runs on real time)."""
    seen: list[float] = []

    def sleep(seconds: float) -> None:
        seen.append(seconds)
        time.sleep(seconds)

    monkeypatch.setattr(adapters.retry, "default_sleep", sleep)
    return seen


def limit(codat: RunningServer, *, headers: bool, **plan: Any) -> None:
    variant = {"rate_headers": "x_rate_limit" if headers else "none"}
    admin_json(codat, "PUT", "/_sandbox/codat/variant", json=variant)
    admin_json(codat, "PUT", "/_sandbox/codat/rate-limit", json=plan)


def pull_once(nuntiq: RunningServer, codat: RunningServer, retry: dict[str, float], **run: float) -> Any:
    settings = {
        "secrets": {"codat_api_key": API_KEY},
        "config": {
            "connector_name": "codat_rate_test",
            "codat": {"server_url": codat.url, "company_ids": [SMALL_COMPANY], "timeout_s": 10},
            "retry": retry,
            "run": run,
        },
        "job_params": {"lookback_days": 3650},
    }
    context = nuntiq_context(nuntiq, str(next(_customers)), copy.deepcopy(settings))
    return context, pull.run(context)


def documents(context: Any) -> int:
    return int(context.api.get("/v1/source-documents", params={"page": 1, "limit": 1000})["count"])


def listed(codat: RunningServer) -> int:
    admin_json(codat, "PUT", "/_sandbox/codat/rate-limit", json={})
    with httpx.Client(base_url=codat.url, timeout=30) as client:
        import base64

        auth = "Basic " + base64.b64encode(API_KEY.encode()).decode()
        response = client.get(f"/companies/{SMALL_COMPANY}/files", headers={"Authorization": auth})
        response.raise_for_status()
        return len(response.json())


#: backoff far shorter than any quota window: a long wait can only come from the headers
SHORT_BACKOFF = {"max_attempts": 12, "initial_wait": 0.01, "multiplier": 1.0, "max_wait": 10, "max_total": 60}


@pytest.mark.parametrize("reset_format", ["iso", "epoch", "seconds"])
def test_without_retry_after_the_pull_waits_for_the_reset_and_lands_everything(
    codat: RunningServer, nuntiq_server: RunningServer, waits: list[float], reset_format: str
) -> None:
    limit(codat, headers=True, requests=2, window_seconds=2, retry_after=False, reset_format=reset_format)
    context, result = pull_once(nuntiq_server, codat, SHORT_BACKOFF)
    assert waits, "the quota never refused a request: the test proves nothing"
    assert max(waits) >= 0.8, f"waited {waits}: the backoff, not the reset the headers named"
    # a whole-second reset (rounded up) measured from a whole-second Date (rounded down)
    # overshoots the 2 s window by at most 2 s; never by the daily quota's hours
    assert all(w <= 4.05 for w in waits), f"waited {waits}: longer than the quota window"
    assert documents(context) == listed(codat)
    assert not result.get("failed"), result


def test_with_retry_after_and_no_headers_the_pull_waits_what_it_is_told(
    codat: RunningServer, nuntiq_server: RunningServer, waits: list[float]
) -> None:
    limit(codat, headers=False, requests=2, window_seconds=1.5, retry_after=True)
    context, _ = pull_once(nuntiq_server, codat, SHORT_BACKOFF)
    assert waits and all(w >= 1.0 for w in waits), waits  # Retry-After is whole seconds, at least 1
    assert documents(context) == listed(codat)


def test_with_neither_header_the_backoff_alone_gets_through(
    codat: RunningServer, nuntiq_server: RunningServer, waits: list[float]
) -> None:
    limit(codat, headers=False, requests=2, window_seconds=1, retry_after=False)
    backoff = {"max_attempts": 10, "initial_wait": 0.1, "multiplier": 2.0, "max_wait": 2, "max_total": 60}
    context, _ = pull_once(nuntiq_server, codat, backoff)
    assert waits and waits[0] < 0.2  # nothing named a wait: the first one is the backoff's
    assert documents(context) == listed(codat)


def test_a_reset_beyond_max_wait_gives_up_at_once_naming_it(
    codat: RunningServer, nuntiq_server: RunningServer, waits: list[float]
) -> None:
    limit(codat, headers=True, requests=1, window_seconds=3600, retry_after=False)
    started = time.monotonic()
    with pytest.raises(Exception, match=r"(?s)quota is spent until its reset in 3\d{3}s.*above max_wait"):
        pull_once(nuntiq_server, codat, SHORT_BACKOFF)
    assert time.monotonic() - started < 10
    assert not any(w > 1 for w in waits), waits


def test_a_reset_beyond_the_time_budget_is_not_slept(
    codat: RunningServer, nuntiq_server: RunningServer, waits: list[float]
) -> None:
    limit(codat, headers=True, requests=2, window_seconds=45, retry_after=False)
    patient = {"max_attempts": 5, "initial_wait": 0.01, "multiplier": 1.0, "max_wait": 120, "max_total": 300}
    started = time.monotonic()
    with pytest.raises(Exception, match=r"(?s)quota is spent until its reset in \d+s.*time budget"):
        pull_once(nuntiq_server, codat, patient, time_budget_seconds=6)
    assert time.monotonic() - started < 15
    assert not any(w > 6 for w in waits), waits
