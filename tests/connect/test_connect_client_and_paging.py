"""Client construction, page validation and keyset edge cases (scripted pages), downloads."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from adapters.connect import (
    ConnectSettings,
    ListingsSource,
    MediaFolderFilesSource,
    build_client,
    classify_connect_error,
    client_from_context,
    open_download,
)
from adapters.connect.paging import parse_content_range
from adapters.failures import AdapterError, FailureClass
from adapters.paging import Page, iter_offset
from adapters.retry import Retrier
from lib.jobcontext import FakeClock
from sandbox.connect.app import DEFAULT_API_KEY
from sandbox.connect.seed import MEDIA_FOLDER
from sandbox.server import RunningServer, serve_in_thread
from tests.connect.conftest import make_client
from tests.connect.connect_fakes import ScriptedClient


class Ctx:
    def __init__(self, config: dict[str, Any], secrets: dict[str, Any]) -> None:
        self.config, self.secrets = config, secrets

    def get_config(self, key: str, default: Any = None) -> Any:
        return self.config.get(key, default)

    def get_secret(self, key: str) -> Any:
        return self.secrets.get(key)


def test_client_has_sdk_retries_and_page_accumulation_off() -> None:
    client = build_client(ConnectSettings(page_size=250, read_timeout=30), "SU-1:abc")
    assert client.max_retries == 0
    assert client.resourceset_append is False
    assert client.default_limit == 250
    assert client.api_key == "ApiKey SU-1:abc"
    assert client.logger is None
    assert client.timeout == (15.0, 30.0)
    assert client.endpoint == "https://api.connect.cloudblue.com/public/v1"


def test_settings_from_context_and_named_secret() -> None:
    ctx = Ctx(
        {
            "connect_endpoint": "http://127.0.0.1:8080/",
            "connect_api_key_secret": "cb_key",
            "connect_page_size": 40,
        },
        {"cb_key": "ApiKey SU-9:xyz"},
    )
    client = client_from_context(ctx)  # type: ignore[arg-type]
    assert client.endpoint == "http://127.0.0.1:8080/public/v1"
    assert client.default_limit == 40 and client.api_key == "ApiKey SU-9:xyz"


def test_missing_secret_names_the_setting_and_never_echoes_values() -> None:
    ctx = Ctx({"connect_api_key_secret": "cb_key"}, {"other": "ApiKey SU-9:do-not-print"})
    with pytest.raises(ValueError) as caught:
        client_from_context(ctx)  # type: ignore[arg-type]
    assert "cb_key" in str(caught.value) and "connect_api_key_secret" in str(caught.value)
    assert "do-not-print" not in str(caught.value)
    with pytest.raises(ValueError):
        ConnectSettings(endpoint="ftp://example.com")
    assert "topsecret" not in repr(ConnectSettings())


def test_content_range_parsing() -> None:
    assert parse_content_range("items 0-99/5000") is not None
    cr = parse_content_range("items 100-149/150")
    assert cr is not None and (cr.first, cr.last, cr.count) == (100, 149, 150)
    assert parse_content_range("items 0-0/0") is not None
    assert parse_content_range("garbage") is None and parse_content_range(None) is None


def _listing(key: str, at: str) -> dict[str, Any]:
    return {"id": key, "updated": at, "vendor": {"id": "VA-1"}}


def _retrier(clock: FakeClock) -> Retrier:
    return Retrier(classify_connect_error, source="connect.test", sleep=clock.sleep, clock=clock.clock)


def test_page_contradicting_content_range_fails_instead_of_skipping(fake_clock: FakeClock) -> None:
    pages = [([_listing("L1", "2024-01-01T00:00:00+00:00")], "items 0-4/10")]
    source = ListingsSource(ScriptedClient(pages), retrier=_retrier(fake_clock))  # type: ignore[arg-type]
    with pytest.raises(AdapterError) as caught:
        list(source.fetch_since(None))
    assert caught.value.kind is FailureClass.INVALID and "Content-Range" in str(caught.value)


def test_server_ignoring_the_ordering_is_detected(fake_clock: FakeClock) -> None:
    page = [_listing("L2", "2024-01-02T00:00:00Z"), _listing("L1", "2024-01-01T00:00:00Z")]
    source = ListingsSource(ScriptedClient([(page, "items 0-1/2")]), retrier=_retrier(fake_clock))  # type: ignore[arg-type]
    with pytest.raises(AdapterError, match="not ordered"):
        list(source.fetch_since(None))


def test_ties_across_pages_mixed_timestamp_formats(fake_clock: FakeClock) -> None:
    """Three records share an instant written three ways; a capped page splits them."""
    same = ["2024-01-01T10:00:00+00:00", "2024-01-01T10:00:00Z", "2024-01-01T12:00:00+02:00"]
    records = [_listing(f"L{i}", at) for i, at in enumerate(same)] + [_listing("L9", "2024-01-02T00:00:00Z")]
    client = ScriptedClient(
        [
            (records[:2], "items 0-1/4"),  # capped: asked for 100
            (records[2:], "items 0-1/2"),
        ]
    )
    items = list(ListingsSource(client, retrier=_retrier(fake_clock)).fetch_since(None))  # type: ignore[arg-type]
    assert [i.key for i in items] == ["L0", "L1", "L2", "L9"]
    second = client.queries()[1]
    assert "eq(updated,2024-01-01T10:00:00.000000Z)" in second and "out(id,(L0,L1))" in second
    assert all(params["offset"] == 0 for _, params in client.calls)


def test_offset_lists_without_content_range_continue_until_empty() -> None:
    pages = {0: ["a", "b"], 2: ["c"], 3: []}
    calls: list[int] = []

    def fetch(limit: int, offset: int) -> Page:
        calls.append(offset)
        return Page([{"id": x} for x in pages[offset]], None)

    assert [r["id"] for r in iter_offset(fetch, limit=5)] == ["a", "b", "c"]
    assert calls == [0, 2, 3, 3], "advances by what arrived, stops only on an empty page asked twice"


def test_downloads_stream_and_retry(connect: RunningServer, fake_clock: FakeClock) -> None:
    client = make_client(connect.url)
    source = MediaFolderFilesSource(
        client, folder_type=MEDIA_FOLDER[0], folder_name=MEDIA_FOLDER[1], retrier=_retrier(fake_clock)
    )
    documents = list(source.fetch_since(None))
    expected = {f["key"]: f for f in httpx.get(f"{connect.url}/_sandbox/connect/truth").json()["media_files"]}
    assert {d.key for d in documents} == set(expected)
    connect.set_faults(script=[503], path_pattern="/files/MFL-[^/]+/")
    stream = documents[0].open()
    head = stream.read(10)
    rest = stream.read()
    stream.close()
    assert len(head) == 10 and len(head + rest) == expected[documents[0].key]["size"] == documents[0].size
    assert len(fake_clock.sleeps) == 1


def test_api_key_is_never_sent_to_another_origin(connect: RunningServer, fake_clock: FakeClock) -> None:
    other = serve_in_thread("connect")
    try:
        client = make_client(connect.url)
        # a file on another host: no Authorization header goes there, so that host says 401
        foreign = f"{other.url}/public/v1/media/folders/{MEDIA_FOLDER[0]}/{MEDIA_FOLDER[1]}/files"
        with pytest.raises(AdapterError) as caught:
            open_download(client, _retrier(fake_clock), foreign, step="test")
        assert caught.value.kind is FailureClass.AUTH
        own = open_download(
            client, _retrier(fake_clock), f"media/folders/{MEDIA_FOLDER[0]}/{MEDIA_FOLDER[1]}/files", step="t"
        )
        assert own.read().startswith(b"[")
        own.close()
        assert other.stats().get("connect_auth_rejected") == 1
    finally:
        other.stop()


def test_timestamps_sent_in_utc_with_z(fake_clock: FakeClock) -> None:
    client = ScriptedClient([([], "items 0-0/0")])
    since = datetime(2024, 5, 1, 14, 30, tzinfo=UTC).astimezone()
    list(ListingsSource(client, retrier=_retrier(fake_clock)).fetch_since(since))  # type: ignore[arg-type]
    assert "ge(updated,2024-05-01T14:30:00.000000Z)" in client.queries()[0]
    assert DEFAULT_API_KEY not in client.queries()[0]


def test_record_without_cursor_names_the_record(fake_clock: FakeClock) -> None:
    page = [{"id": "LST-1", "vendor": {"id": "VA-1"}}]
    source = ListingsSource(ScriptedClient([(page, "items 0-0/1")]), retrier=_retrier(fake_clock))  # type: ignore[arg-type]
    with pytest.raises(AdapterError) as caught:
        list(source.fetch_since(None))
    assert caught.value.kind is FailureClass.INVALID and "updated" in str(caught.value)


def test_record_with_garbage_cursor_names_record_and_value(fake_clock: FakeClock) -> None:
    page = [{"id": "LST-2", "updated": "next week"}]
    source = ListingsSource(ScriptedClient([(page, "items 0-0/1")]), retrier=_retrier(fake_clock))  # type: ignore[arg-type]
    with pytest.raises(AdapterError) as caught:
        list(source.fetch_since(None))
    with pytest.raises(AdapterError):
        source.to_item({"id": "LST-2", "updated": "next week"})
    assert "LST-2" in str(caught.value) and "next week" in str(caught.value)


def test_window_closes_at_the_servers_clock_not_ours(fake_clock: FakeClock) -> None:
    from adapters.connect import SubscriptionAssetsSource

    client = ScriptedClient([([], "items 0-0/7"), ([], "items 0-0/0")])
    original_get = client.get

    def get_with_date(url: str, **kwargs: Any) -> Any:
        result = original_get(url, **kwargs)
        assert client.response is not None
        client.response.headers["Date"] = "Sat, 01 Jun 2024 08:30:00 GMT"
        return result

    client.get = get_with_date  # type: ignore[method-assign]
    source = SubscriptionAssetsSource(client, retrier=_retrier(fake_clock))  # type: ignore[arg-type]
    assert list(source.fetch_since(datetime(2024, 5, 1, tzinfo=UTC))) == []
    probe, *_pages = client.calls
    assert probe[1]["limit"] == 0
    assert "lt(events.updated.at,2024-06-01T08:30:00.000000Z)" in client.queries()[1]


def test_a_download_dropped_mid_body_starts_again_and_arrives_intact(
    connect: RunningServer, fake_clock: FakeClock
) -> None:
    client = make_client(connect.url)
    source = MediaFolderFilesSource(
        client, folder_type=MEDIA_FOLDER[0], folder_name=MEDIA_FOLDER[1], retrier=_retrier(fake_clock)
    )
    document = next(iter(source.fetch_since(None)))
    with document.open() as clean:
        expected = clean.read()
    # the server promises a body, sends a few bogus bytes, then drops the connection
    connect.set_faults(script=["drop"], path_pattern="/files/MFL-[^/]+/")
    with document.open() as stream:
        content = stream.read()
    assert content == expected and len(content) == document.size
    assert len(fake_clock.sleeps) == 1
    assert connect.stats().get("fault_drop") == 1
