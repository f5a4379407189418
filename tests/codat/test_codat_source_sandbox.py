"""CodatFilesSource against the sandbox: delta selection, archive layout, refusals, failures."""

from __future__ import annotations

import hashlib
import socket
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from adapters.codat.archive import ArchiveLayoutError
from adapters.codat.client import ArchiveTooLarge, CodatFilesClient
from adapters.codat.days import Refusal
from adapters.codat.errors import classify
from adapters.codat.settings import ArchiveLimits, CodatSettings
from adapters.codat.source import CodatFilesSource
from adapters.failures import AdapterError, FailureClass, RetriesExhausted
from adapters.records import DocumentItem, RefusedItem
from adapters.retry import Retrier, RetryPolicy
from lib.jobcontext import FakeClock, RecordingLogger
from sandbox.server import RunningServer
from tests.codat.conftest import API_KEY, COMPANY, admin_json


def make_source(
    client: CodatFilesClient,
    fake_clock: FakeClock,
    log: RecordingLogger | None = None,
    company: str = COMPANY,
) -> CodatFilesSource:
    retrier = Retrier(
        classify, source="codat", logger=log, sleep=fake_clock.sleep, clock=fake_clock.clock, rand=lambda: 0.5
    )
    return CodatFilesSource(client, company, retrier=retrier, logger=log)


def digest(item: DocumentItem) -> str:
    with item.open() as stream:
        return hashlib.sha256(stream.read()).hexdigest()


@pytest.fixture
def source(
    client: CodatFilesClient, fake_clock: FakeClock, log: RecordingLogger
) -> Iterator[CodatFilesSource]:
    with make_source(client, fake_clock, log) as s:
        yield s


def test_all_300_files_with_the_right_content(source: CodatFilesSource, codat: RunningServer) -> None:
    truth = admin_json(codat, "GET", f"/_sandbox/codat/companies/{COMPANY}/files")
    items = list(source.fetch_since(None))
    assert len(items) == 300 == len(truth)
    assert len({i.key for i in items}) == 300
    expected = {(t["fileName"], t["uploaded"], t["sourceType"]): t["sha256"] for t in truth}
    got = {
        (i.metadata["file_name"], i.metadata["uploaded"], i.metadata["source_type"]): digest(i) for i in items
    }
    assert got == expected  # same-day duplicates map to the right archive member
    duplicated = [i for i in items if i.metadata["archive_member"] != i.name]
    assert duplicated, "the seed must contain same-day duplicate names"
    assert any(not t["uploaded"].endswith("Z") and "+" not in t["uploaded"][10:] for t in truth)
    assert codat.stats()["codat_downloads"] == 10  # one archive per date


def test_zone_less_times_use_the_configured_zone(codat: RunningServer, fake_clock: FakeClock) -> None:
    settings = CodatSettings(server_url=codat.url, local_timezone="Europe/Berlin", timeout_s=10)
    client = CodatFilesClient.create(settings, API_KEY)
    with make_source(client, fake_clock) as src:
        listed = {f.uploaded_raw: f.uploaded for f in src.list_files()}
    assert listed["2026-01-06T01:00:24"] == datetime(2026, 1, 6, 0, 0, 24, tzinfo=UTC)
    offset = next(raw for raw in listed if raw.endswith("-05:00"))
    assert listed[offset].hour == (int(offset[11:13]) + 5) % 24
    client.close()


def test_since_cursor_keeps_only_newer_files_and_their_dates(
    source: CodatFilesSource, codat: RunningServer
) -> None:
    cursor = datetime(2026, 1, 13, 12, 0, tzinfo=UTC)
    items = list(source.fetch_since(cursor))
    assert items and all(i.cursor is not None and i.cursor >= cursor for i in items)
    every = source.list_files()
    assert len(items) == sum(1 for f in every if f.uploaded >= cursor)
    assert codat.stats()["codat_downloads"] == len({i.metadata["uploaded"][:10] for i in items})


def test_documents_stay_readable_after_the_generator_ends(source: CodatFilesSource) -> None:
    items = list(source.fetch_since(datetime(2026, 1, 14, tzinfo=UTC)))
    assert digest(items[-1])  # a sink's final flush reads after the last yield
    source.close()
    with pytest.raises(FileNotFoundError):
        items[0].open()


@pytest.mark.parametrize(
    ("kind", "text", "files_refused"),
    [
        ("traversal", "climbs out", 0),
        ("absolute", "absolute", 0),
        ("symlink", "link", 0),
        ("bomb", "compression ratio", 0),
        ("not_zip", "not a zip", 30),
        ("missing", "the archive holds", None),
    ],
)
def test_a_bad_archive_is_refused_item_by_item_naming_the_date(
    source: CodatFilesSource,
    codat: RunningServer,
    log: RecordingLogger,
    kind: str,
    text: str,
    files_refused: int,
) -> None:
    admin_json(
        codat,
        "POST",
        f"/_sandbox/codat/companies/{COMPANY}/malicious",
        json={"date": "2026-01-07", "kind": kind},
    )
    handed_over: list[Refusal] = []
    source.on_refusal = handed_over.append  # the quarantine hook
    fetched = list(source.fetch_since(datetime(2026, 1, 7, tzinfo=UTC)))
    items = [i for i in fetched if isinstance(i, DocumentItem)]
    envelopes = [i for i in fetched if isinstance(i, RefusedItem)]
    by_day = {i.metadata["archive_date"] for i in items}
    assert {f"2026-01-{d:02d}" for d in range(8, 15)} <= by_day  # later days are not blocked
    refused = source.refusals
    assert refused and all(r.day == "2026-01-07" for r in refused)
    assert all(text in r.reason for r in refused)
    refused_files = [r.listed for r in refused if r.listed is not None]
    if files_refused is None:
        # the day's earliest upload is missing: it alone, or it and the same-named files
        # the archive can then no longer tell apart, are refused
        assert refused_files and len({f.file_name for f in refused_files}) == 1
    else:
        assert len(refused_files) == files_refused
    assert len(items) == 240 - len(refused_files)  # 30 files a day from the 7th to the 14th
    assert handed_over == refused
    # every refusal is also yielded for the quarantine, keyed like the file, hinted by its day
    assert len(envelopes) == len(refused)
    assert all(e.refetch == {"partition": "2026-01-07"} and e.reason for e in envelopes)
    delivered = {i.key for i in items}
    assert not delivered & {e.key for e in envelopes}
    assert len(log.of("error")) == len(refused) and all("2026-01-07" in e[1] for e in log.of("error"))


def test_every_wanted_file_unreadable_is_a_layout_error(
    source: CodatFilesSource, codat: RunningServer
) -> None:
    admin_json(
        codat,
        "POST",
        f"/_sandbox/codat/companies/{COMPANY}/malicious",
        json={"date": "2026-01-14", "kind": "not_zip"},
    )
    with pytest.raises(ArchiveLayoutError, match=r"2026-01-14.*not a zip"):
        list(source.fetch_since(datetime(2026, 1, 14, tzinfo=UTC)))


def test_quota_fails_at_once(source: CodatFilesSource, codat: RunningServer, fake_clock: FakeClock) -> None:
    admin_json(codat, "PUT", "/_sandbox/codat/quota", json={"exceeded": True})
    with pytest.raises(AdapterError) as info:
        list(source.fetch_since(None))
    assert info.value.kind is FailureClass.QUOTA
    assert not isinstance(info.value, RetriesExhausted)
    assert "Codat account limit" in str(info.value)
    assert codat.stats()["requests"] == 1 and fake_clock.sleeps == []


def test_rate_limit_honours_retry_after(
    source: CodatFilesSource, codat: RunningServer, fake_clock: FakeClock, log: RecordingLogger
) -> None:
    codat.set_faults(script=[429, 429], retry_after=7)
    items = list(source.fetch_since(datetime(2026, 1, 14, tzinfo=UTC)))
    assert items
    assert len(fake_clock.sleeps) == 2 and all(s >= 7 for s in fake_clock.sleeps)
    assert sum("rate_limited (status 429)" in w for w in log.warnings()) == 2


def test_dropped_download_is_retried(
    source: CodatFilesSource, codat: RunningServer, fake_clock: FakeClock
) -> None:
    codat.set_faults(script=["drop"], path_pattern="/files/download")
    items = list(source.fetch_since(datetime(2026, 1, 14, tzinfo=UTC)))
    assert items and all(digest(i) for i in items)
    assert len(fake_clock.sleeps) == 1


def test_unreachable_server_retried_within_caps_then_clear_error(
    fake_clock: FakeClock, log: RecordingLogger
) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    settings = CodatSettings(server_url=f"http://127.0.0.1:{port}", timeout_s=2)
    client = CodatFilesClient.create(settings, API_KEY)
    policy = RetryPolicy(max_attempts=5, initial_wait=1, max_wait=4, max_total=30)
    retrier = Retrier(
        classify, source="codat", logger=log, policy=policy, sleep=fake_clock.sleep, clock=fake_clock.clock
    )
    with CodatFilesSource(client, COMPANY, retrier=retrier) as src, pytest.raises(RetriesExhausted) as info:
        list(src.fetch_since(None))
    assert info.value.kind is FailureClass.TRANSIENT
    assert "unreachable" in str(info.value)
    assert info.value.attempts == 5
    assert len(fake_clock.sleeps) == 4 and max(fake_clock.sleeps) <= 4 and sum(fake_clock.sleeps) <= 30
    client.close()


def test_unknown_company_is_not_found(client: CodatFilesClient, fake_clock: FakeClock) -> None:
    with (
        make_source(client, fake_clock, company="no-such-company") as src,
        pytest.raises(AdapterError) as info,
    ):
        list(src.fetch_since(None))
    assert info.value.kind is FailureClass.NOT_FOUND and "no-such-company" in str(info.value)


def test_wrong_key_is_auth_with_hint(codat: RunningServer, fake_clock: FakeClock) -> None:
    settings = CodatSettings(server_url=codat.url, timeout_s=10, api_key_secret="codat_api_key")
    client = CodatFilesClient.create(settings, "wrong-key")
    with make_source(client, fake_clock) as src, pytest.raises(AdapterError) as info:
        list(src.fetch_since(None))
    assert info.value.kind is FailureClass.AUTH and "codat_api_key" in str(info.value)
    assert "wrong-key" not in str(info.value)
    client.close()


def test_oversized_download_is_refused_and_removed(codat: RunningServer, tmp_path: Any) -> None:
    limits = ArchiveLimits(max_archive_bytes=1000)
    settings = CodatSettings(server_url=codat.url, timeout_s=10, archive_limits=limits)
    client = CodatFilesClient.create(settings, API_KEY)
    target = tmp_path / "day.zip"
    with pytest.raises(ArchiveTooLarge, match="larger than 1000 bytes"):
        client.download_archive(COMPANY, "2026-01-05", target)
    assert not target.exists()
    client.close()


def test_a_failing_refusal_hook_fails_the_fetch_before_any_item(
    source: CodatFilesSource, codat: RunningServer
) -> None:
    admin_json(
        codat,
        "POST",
        f"/_sandbox/codat/companies/{COMPANY}/malicious",
        json={"date": "2026-01-13", "kind": "symlink"},
    )

    def store_down(refusal: Refusal) -> None:
        raise OSError(f"quarantine store unreachable; not kept: {refusal.describe()}")

    source.on_refusal = store_down
    items = source.fetch_since(datetime(2026, 1, 13, tzinfo=UTC))
    with pytest.raises(OSError, match=r"link-to-passwd\.pdf"):
        next(items)
