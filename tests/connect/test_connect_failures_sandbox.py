"""Failure handling through the real ConnectClient against the sandbox."""

from __future__ import annotations

import httpx
import pytest

from adapters.connect import (
    BillingBatchFilesSource,
    ListingsSource,
    PartnerDirectory,
    classify_connect_error,
)
from adapters.connect.settings import API_KEY_SECRET_SETTING
from adapters.failures import AdapterError, FailureClass, RetriesExhausted
from adapters.retry import Retrier, RetryPolicy
from lib.jobcontext import FakeClock, RecordingLogger
from sandbox.connect.app import DEFAULT_API_KEY
from sandbox.server import RunningServer
from tests.connect.conftest import make_client


def retrier(clock: FakeClock, logger: RecordingLogger | None = None, **policy: float) -> Retrier:
    return Retrier(
        classify_connect_error,
        source="connect.test",
        logger=logger,
        policy=RetryPolicy(**policy) if policy else None,
        sleep=clock.sleep,
        clock=clock.clock,
        rand=lambda: 0.5,
    )


def test_wrong_key_fails_on_first_attempt_naming_the_secret_setting(
    connect: RunningServer, fake_clock: FakeClock
) -> None:
    client = make_client(connect.url, api_key="ApiKey SU-000-000-000:wrong-key-value")
    source = ListingsSource(client, retrier=retrier(fake_clock))
    with pytest.raises(AdapterError) as caught:
        list(source.fetch_since(None))
    assert caught.value.kind is FailureClass.AUTH
    assert caught.value.attempts == 1
    assert API_KEY_SECRET_SETTING in str(caught.value)
    assert "wrong-key-value" not in str(caught.value)
    assert fake_clock.sleeps == []
    assert connect.stats()["requests"] == 1


def test_429_with_retry_after_waits_at_least_that_long_then_succeeds(
    connect: RunningServer, fake_clock: FakeClock
) -> None:
    connect.set_faults(script=[429], retry_after=2, path_pattern="/public/v1/listings")
    logger = RecordingLogger()
    source = ListingsSource(make_client(connect.url), retrier=retrier(fake_clock, logger))
    items = list(source.fetch_since(None))
    assert len(items) == 60
    assert len(fake_clock.sleeps) == 1 and fake_clock.sleeps[0] >= 2.0
    assert any(r[0] == "warn" and r[2] == "connect.listings.page" for r in logger.records)


def test_transient_errors_and_dropped_connections_are_retried(
    connect: RunningServer, fake_clock: FakeClock
) -> None:
    connect.set_faults(script=[503, "drop", 502, "pass", 500])
    items = list(
        ListingsSource(make_client(connect.url, page_size=25), retrier=retrier(fake_clock)).fetch_since(None)
    )
    assert len({i.key for i in items}) == 60
    assert len(fake_clock.sleeps) == 4


def test_persistent_5xx_gives_up_within_the_policy(connect: RunningServer, fake_clock: FakeClock) -> None:
    connect.set_faults(error_rate=1.0, statuses=[503])
    source = ListingsSource(make_client(connect.url), retrier=retrier(fake_clock, max_attempts=3))
    with pytest.raises(RetriesExhausted) as caught:
        list(source.fetch_since(None))
    assert caught.value.kind is FailureClass.TRANSIENT and caught.value.attempts == 3


def test_sandbox_rejects_bad_rql_and_unknown_ids_with_connect_error_bodies(connect: RunningServer) -> None:
    headers = {"Authorization": DEFAULT_API_KEY}
    with httpx.Client(base_url=f"{connect.url}/public/v1", headers=headers) as http:
        bad = http.get("/listings?gt(id,LST-1)")
        assert bad.status_code == 400
        assert bad.json()["error_code"] and bad.json()["errors"]
        unordered = http.get("/subscriptions/assets?ordering(events.updated.at)")
        assert unordered.status_code == 400
        assert "events.updated.at" in unordered.json()["errors"][0]
        garbage = http.get("/listings?and(eq(id")
        assert garbage.status_code == 400
        missing = http.get("/listings/LST-000-000-000")
        assert missing.status_code == 404 and set(missing.json()) == {"error_code", "errors"}
        no_key = httpx.get(f"{connect.url}/public/v1/listings")
        assert no_key.status_code == 401 and no_key.json()["error_code"]


def test_partner_directory_caches_and_maps_404_to_none(connect: RunningServer, fake_clock: FakeClock) -> None:
    client = make_client(connect.url)
    vendors = {i.as_mapping()["vendor"]["id"] for i in ListingsSource(client).fetch_since(None)}
    directory = PartnerDirectory(client, retrier=retrier(fake_clock))
    for _ in range(3):
        for vendor in vendors:
            partner = directory.get(vendor)
            assert partner is not None and partner["id"] == vendor
    assert directory.get("VA-000-000") is None
    assert directory.get("VA-000-000") is None
    assert directory.requests_made == len(vendors) + 1


def test_batch_file_lists_are_not_skipped_when_pages_are_capped(
    connect: RunningServer, fake_clock: FakeClock
) -> None:
    connect.set_faults(page_size_cap=1)
    client = make_client(connect.url, page_size=10)
    docs = list(BillingBatchFilesSource(client, retrier=retrier(fake_clock)).fetch_since(None))
    truth = httpx.get(f"{connect.url}/_sandbox/connect/truth").json()["billing_files"]
    assert sorted(d.key for d in docs) == [f["key"] for f in truth]


def test_select_exclusions_are_applied_by_the_sandbox(connect: RunningServer) -> None:
    from adapters.connect import RequestsSource

    items = list(RequestsSource(make_client(connect.url)).fetch_since(None))
    assert len(items) == 40
    assert all("activation_key" not in i.as_mapping() for i in items)
    raw = httpx.get(f"{connect.url}/_sandbox/connect/dump/requests").json()
    assert all("activation_key" in r for r in raw)


@pytest.mark.parametrize(
    ("pattern", "run"),
    [
        ("/billing/batches/[^/]+/files$", "batch_files"),
        ("/media/folders/streams_batches/", "batch_files"),
        ("/partners/", "partner"),
        ("/subscriptions/requests$", "subscription_requests"),
        ("/tier/accounts$", "tier_accounts"),
    ],
)
def test_every_call_kind_is_retried_under_the_policy(
    connect: RunningServer, fake_clock: FakeClock, pattern: str, run: str
) -> None:
    from adapters.connect import SubscriptionRequestsSource, TierAccountsSource

    connect.set_faults(script=[503, 429], retry_after=1, path_pattern=pattern)
    client = make_client(connect.url, page_size=15)
    if run == "batch_files":
        documents = list(BillingBatchFilesSource(client, retrier=retrier(fake_clock)).fetch_since(None))
        assert all(d.open().read() for d in documents)
    elif run == "partner":
        assert PartnerDirectory(client, retrier=retrier(fake_clock)).get(
            httpx.get(f"{connect.url}/_sandbox/connect/truth").json()["vendor_ids"][0]
        )
    elif run == "subscription_requests":
        assert (
            len(list(SubscriptionRequestsSource(client, retrier=retrier(fake_clock)).fetch_since(None))) == 40
        )
    else:
        assert len(list(TierAccountsSource(client, retrier=retrier(fake_clock)).fetch_since(None))) == 20
    assert len(fake_clock.sleeps) == 2 and fake_clock.sleeps[1] >= 1.0
