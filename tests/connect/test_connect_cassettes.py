"""Each Connect stream and both connectors through the real ConnectClient, from cassettes.

Replay-only by default (see ``conftest.py`` for re-recording). The cassettes were
recorded against the local sandbox with ``CONNECT_RECORD=sandbox``; with
``CONNECT_API_KEY``/``CONNECT_ENDPOINT`` set they are re-recorded against real Connect,
which is why assertions here hold for any data set, not just the sandbox seed.
"""

from __future__ import annotations

import hashlib
import itertools
import os
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from adapters.connect import (
    BillingBatchesSource,
    BillingBatchFilesSource,
    ConnectSettings,
    ListingsSource,
    MediaFolderFilesSource,
    PartnerDirectory,
    RequestsSource,
    SubscriptionAssetsSource,
    SubscriptionRequestsSource,
    TierAccountsSource,
    build_client,
    classify_connect_error,
)
from adapters.protocol import Ordering
from adapters.records import DocumentItem, RecordItem
from adapters.retry import Retrier
from connectors import connect_pull_billing_documents, connect_pull_suppliers
from lib.jobcontext import FakeClock, nuntiq_context
from sandbox.connect.app import DEFAULT_API_KEY
from sandbox.connect.seed import MEDIA_FOLDER
from sandbox.server import RunningServer, serve_in_thread
from tests.connect.conftest import CASSETTES, REPLAY_ENDPOINT, recording_target, secret_values

SINCE = datetime(2020, 1, 1, tzinfo=UTC)
#: the window end of the unordered streams is "now"; fixed so the recorded query matches
NOW = datetime(2030, 1, 1, tzinfo=UTC)
LIMIT = 60  # items read per stream: bounded so a real account does not page forever
PAGE = 25


@pytest.fixture
def endpoint() -> Iterator[tuple[str, str]]:
    """(Connect endpoint, API key) for this test: replay target, sandbox or real Connect."""
    target = recording_target()
    if target == "real":
        yield os.environ["CONNECT_ENDPOINT"], os.environ["CONNECT_API_KEY"]
    elif target == "sandbox":
        server = serve_in_thread("connect")
        try:
            yield f"{server.url}/public/v1", DEFAULT_API_KEY
        finally:
            server.stop()
    else:
        yield REPLAY_ENDPOINT, "ApiKey SU-000-000-000:replay-only"


def client_for(endpoint: tuple[str, str]) -> Any:
    return build_client(ConnectSettings(endpoint=endpoint[0], page_size=PAGE), endpoint[1])


def check_records(items: list[RecordItem], ordering: Ordering) -> None:
    assert items, "the cassette holds at least one page"
    versions = [(i.key, i.cursor) for i in items]
    assert len(versions) == len(set(versions))
    for item in items:
        assert item.cursor is not None and item.cursor.tzinfo is not None
    if ordering is Ordering.CURSOR_ORDERED:
        cursors = [i.cursor for i in items]
        assert cursors == sorted(cursors)  # type: ignore[type-var]


STREAM_SOURCES = {
    "listings": ListingsSource,
    "requests": RequestsSource,
    "subscription_assets": SubscriptionAssetsSource,
    "subscription_requests": SubscriptionRequestsSource,
    "billing_batches": BillingBatchesSource,
}


@pytest.mark.vcr
@pytest.mark.parametrize("stream", sorted(STREAM_SOURCES))
def test_stream_replays(stream: str, endpoint: tuple[str, str]) -> None:
    source = STREAM_SOURCES[stream](client_for(endpoint), now=lambda: NOW)
    items = list(itertools.islice(source.fetch_since(SINCE), LIMIT))
    check_records(items, source.ordering)
    if source.ordering is Ordering.UNORDERED:
        assert all(i.cursor is not None and SINCE <= i.cursor < NOW for i in items)


@pytest.mark.vcr
def test_tier_accounts_replay(endpoint: tuple[str, str]) -> None:
    source = TierAccountsSource(client_for(endpoint))
    items = list(itertools.islice(source.fetch_since(None), LIMIT))
    check_records(items, Ordering.FULL_SCAN)
    assert set(source.seen_hashes) == {i.key for i in items}


def _read(document: DocumentItem) -> bytes:
    stream = document.open()
    try:
        chunks = []
        while chunk := stream.read(1024):
            chunks.append(chunk)
        return b"".join(chunks)
    finally:
        stream.close()


@pytest.mark.vcr
def test_billing_batch_files_replay_as_streamed_documents(endpoint: tuple[str, str]) -> None:
    documents = list(itertools.islice(BillingBatchFilesSource(client_for(endpoint)).fetch_since(SINCE), 12))
    assert documents
    for document in documents:
        content = _read(document)
        assert content, document.key
        assert document.key.startswith(str(document.metadata["batch_id"]) + "/")
        assert document.cursor is not None


@pytest.mark.vcr
def test_media_folder_files_replay(endpoint: tuple[str, str]) -> None:
    folder_type, folder_name = os.environ.get("CONNECT_MEDIA_FOLDER", "/".join(MEDIA_FOLDER)).split("/", 1)
    source = MediaFolderFilesSource(client_for(endpoint), folder_type=folder_type, folder_name=folder_name)
    documents = list(itertools.islice(source.fetch_since(SINCE), 10))
    assert documents
    for document in documents:
        content = _read(document)
        if document.size is not None:
            assert len(content) == document.size


@pytest.mark.vcr
def test_partner_lookup_replay(endpoint: tuple[str, str]) -> None:
    client = client_for(endpoint)
    listing = next(iter(ListingsSource(client).fetch_since(SINCE)))
    vendor_id = listing.as_mapping()["vendor"]["id"]
    directory = PartnerDirectory(client)
    partner = directory.get(vendor_id)
    assert partner is not None and partner["id"] == vendor_id
    assert directory.get(vendor_id) is partner and directory.requests_made == 1


@pytest.mark.vcr(
    record_mode="none" if recording_target() == "real" else "rewrite" if recording_target() else "none"
)
def test_rate_limited_page_is_retried_without_real_sleep(endpoint: tuple[str, str]) -> None:
    """Recorded against the sandbox with a scripted 429 (Retry-After: 2) before the 200."""
    if recording_target() == "sandbox":
        import httpx

        base = endpoint[0].removesuffix("/public/v1")
        httpx.put(f"{base}/_sandbox/faults", json={"script": [429], "retry_after": 2}).raise_for_status()
    clock = FakeClock()
    retrier = Retrier(classify_connect_error, source="connect.listings", sleep=clock.sleep, clock=clock.clock)
    source = ListingsSource(client_for(endpoint), retrier=retrier)
    items = list(itertools.islice(source.fetch_since(SINCE), 5))
    assert len(items) == 5
    assert len(clock.sleeps) == 1 and clock.sleeps[0] >= 2.0


def connector_settings(endpoint: tuple[str, str], name: str) -> dict[str, Any]:
    return {
        "customer_number": "10000001",
        "secrets": {"connect_api_key": endpoint[1]},
        "config": {"connector_name": name, "connect_endpoint": endpoint[0], "connect_page_size": PAGE},
    }


@pytest.mark.vcr
def test_suppliers_connector_replay(endpoint: tuple[str, str], nuntiq: RunningServer) -> None:
    context = nuntiq_context(
        nuntiq,
        settings=connector_settings(endpoint, "connect_vendors"),
        params={"since_override": "2020-01-01T00:00:00Z"},
    )
    result = connect_pull_suppliers.run(context)
    assert result["vendors"] > 0 and result["written"]["suppliers"] == result["vendors"]
    suppliers = context.api.get("/v1/supplier", params={"limit": 100})["items"]
    assert len(suppliers) == result["vendors"]
    assert all(s["supplier_number"] for s in suppliers)


@pytest.mark.vcr
def test_billing_documents_connector_replay(endpoint: tuple[str, str], nuntiq: RunningServer) -> None:
    context = nuntiq_context(
        nuntiq,
        settings=connector_settings(endpoint, "connect_billing_files"),
        params={"since_override": "2020-01-01T00:00:00Z"},
    )
    result = connect_pull_billing_documents.run(context)
    assert result["uploaded"] > 0
    documents = context.api.get("/v1/source-documents", params={"limit": 100})["items"]
    assert len(documents) == result["uploaded"]
    for document in documents:
        for file in document["files"]:
            content = context.api.download_attachment(file["attachment_token"])
            assert hashlib.sha256(content).hexdigest() == file["sha256"]


def test_committed_cassettes_hold_no_secret() -> None:
    files = sorted(Path(CASSETTES).glob("*.yaml"))
    assert len(files) >= 10, "cassettes are committed"
    for path in files:
        text = path.read_text(encoding="utf-8")
        for secret in secret_values():
            assert secret not in text, f"{path.name} contains a secret"
        assert "ApiKey SU-" not in text, path.name
        for interaction in yaml.safe_load(text)["interactions"]:
            headers = {k.lower() for k in interaction["request"].get("headers", {})}
            assert "authorization" not in headers, path.name
            assert interaction["request"]["uri"].split("?")[0].split("/", 3)[3].startswith("public/v1")


def test_query_matcher_ignores_part_order_but_not_content() -> None:
    from types import SimpleNamespace

    from tests.connect.conftest import _query_unordered

    a = SimpleNamespace(uri="http://h/public/v1/listings?ordering(updated)&ge(updated,X)&limit=25&offset=0")
    b = SimpleNamespace(uri="http://h/public/v1/listings?limit=25&offset=0&ge(updated,X)&ordering(updated)")
    c = SimpleNamespace(uri="http://h/public/v1/listings?limit=25&offset=25&ge(updated,X)&ordering(updated)")
    _query_unordered(a, b)
    with pytest.raises(AssertionError):
        _query_unordered(a, c)


@pytest.mark.vcr
def test_window_closes_at_recorded_server_time(endpoint: tuple[str, str], vcr: Any) -> None:
    """No injected clock: the window end comes from the server's Date header (recorded)."""
    source = SubscriptionRequestsSource(client_for(endpoint))
    items = list(itertools.islice(source.fetch_since(SINCE), LIMIT))
    check_records(items, Ordering.UNORDERED)
    uris = [r.uri for r in vcr.requests]
    assert "limit=0" in uris[0]
    assert all("lt(events.updated.at," in u for u in uris[1:])
