"""Uploads to the Codat sandbox: checks before sending, batches of 20, exactly-once with a ledger."""

from __future__ import annotations

import io
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import pytest

from adapters.codat.client import CodatFilesClient
from adapters.codat.errors import classify
from adapters.codat.sink import CodatUploadSink
from adapters.codat.upload import CodatUploader, UploadFile, check_upload
from adapters.ledger import Ledger
from adapters.records import DocumentItem
from adapters.retry import Retrier
from lib.jobcontext import FakeClock, RecordingLogger
from sandbox.server import RunningServer
from tests.codat.conftest import COMPANY, CONNECTION, admin_json

TEN_MB = 10 * 1024 * 1024


class MemoryCustomData:
    """Just enough of ``context.api`` for the ledger: custom-data rows in a dict."""

    def __init__(self) -> None:
        self.rows: dict[str, dict[str, Any]] = {}

    def get(self, path: str, params: Mapping[str, Any] | None = None, extra_headers: Any = None) -> Any:
        params = params or {}
        prefix = str(params.get("key_prefix", ""))
        keys = sorted(k for k in self.rows if k.startswith(prefix))
        page, limit = int(params.get("page", 1)), int(params.get("limit", 100))
        chosen = keys[(page - 1) * limit : page * limit]
        return {
            "items": [{"key": k, "value": self.rows[k]} for k in chosen],
            "count": len(keys),
            "page": page,
        }

    def put(self, path: str, data: Any = None, extra_headers: Any = None) -> Any:
        for row in data["rows"]:
            self.rows[row["key"]] = row["value"]
        return {}

    def delete(self, path: str, data: Any = None, extra_headers: Any = None) -> Any:
        for key in data["keys"]:
            self.rows.pop(key, None)
        return {}

    def post(self, path: str, data: Any = None, extra_headers: Any = None) -> Any:
        raise NotImplementedError

    def download_attachment(self, attachment_token: str) -> bytes:
        raise NotImplementedError

    def upload_source_documents(self, files: list[Any], **kwargs: Any) -> Any:
        raise NotImplementedError


def file_of(name: str, data: bytes) -> UploadFile:
    return UploadFile(key=f"doc-{name}", name=name, open=lambda: io.BytesIO(data))


def forty_five() -> list[UploadFile]:
    files = [file_of(f"invoice-{i:02d}.pdf", f"%PDF-1.4 invoice {i}".encode()) for i in range(42)]
    files.insert(5, file_of("huge-scan.pdf", b"\0" * (TEN_MB + 1)))
    files.insert(30, file_of("huge-sheet.xlsx", b"\1" * (TEN_MB + 10)))
    files.insert(17, file_of("setup.exe", b"MZ..."))
    return files


def uploader(
    client: CodatFilesClient,
    log: RecordingLogger,
    clock: FakeClock,
    ledger: Ledger | None = None,
    **options: Any,
) -> CodatUploader:
    retrier = Retrier(classify, source="codat", logger=log, sleep=clock.sleep, clock=clock.clock)
    return CodatUploader(
        client, COMPANY, CONNECTION, retrier=retrier, logger=log, ledger=ledger, sleep=clock.sleep, **options
    )


def test_check_upload_rules() -> None:
    assert check_upload("a.PDF", 10) is None
    assert check_upload("a.jpeg", TEN_MB) is None
    assert "not accepted" in (check_upload("a.exe", 10) or "")
    assert "no extension" in (check_upload("README", 10) or "")
    assert "over Codat's limit" in (check_upload("a.pdf", TEN_MB + 1) or "")
    assert "empty" in (check_upload("a.csv", 0) or "")


def test_45_files_2_too_large_1_disallowed(
    client: CodatFilesClient, codat: RunningServer, log: RecordingLogger, fake_clock: FakeClock
) -> None:
    result = uploader(client, log, fake_clock).upload(forty_five())
    uploads = admin_json(codat, "GET", "/_sandbox/codat/uploads")
    assert len(uploads["files"]) == 42 and uploads["requests"] == 3
    assert sorted({f["request"] for f in uploads["files"]}) == [1, 2, 3]
    # requests of 20, 20 and 2 files, two in flight at once (so in any order)
    assert sorted(sum(f["request"] == r for f in uploads["files"]) for r in (1, 2, 3)) == [2, 20, 20]
    assert result.requests == 3 and len(result.uploaded) == 42
    rejected = {r.name for r in result.rejected}
    assert rejected == {"huge-scan.pdf", "huge-sheet.xlsx", "setup.exe"}
    warned = " ".join(log.warnings())
    assert all(name in warned for name in rejected)


def test_ledger_makes_reruns_send_nothing(
    client: CodatFilesClient, codat: RunningServer, log: RecordingLogger, fake_clock: FakeClock
) -> None:
    ledger = Ledger(MemoryCustomData(), namespace="codat-push/test")  # type: ignore[arg-type]
    files = [file_of(f"r-{i}.csv", f"a,b\n{i},2\n".encode()) for i in range(25)]
    first = uploader(client, log, fake_clock, ledger).upload(files)
    second = uploader(client, log, fake_clock, ledger).upload(files)
    assert len(first.uploaded) == 25 and first.requests == 2
    assert second.uploaded == [] and len(second.skipped) == 25 and second.requests == 0
    assert len(admin_json(codat, "GET", "/_sandbox/codat/uploads")["files"]) == 25


def test_pending_entries_are_reconciled_not_resent(
    client: CodatFilesClient, codat: RunningServer, log: RecordingLogger, fake_clock: FakeClock
) -> None:
    api = MemoryCustomData()
    ledger = Ledger(api, namespace="codat-push/test")  # type: ignore[arg-type]
    files = [file_of(f"p-{i}.csv", f"x\n{i}\n".encode()) for i in range(3)]
    uploader(client, log, fake_clock, ledger).upload(files)
    # simulate a crash after the request arrived but before "done" was written
    for value in api.rows.values():
        value["state"] = "pending"
    again = uploader(client, log, fake_clock, ledger).upload(files)
    assert sorted(again.reconciled) == ["p-0.csv", "p-1.csv", "p-2.csv"] and again.requests == 0
    assert len(admin_json(codat, "GET", "/_sandbox/codat/uploads")["files"]) == 3


def test_dropped_upload_is_retried_without_duplicates(
    client: CodatFilesClient, codat: RunningServer, log: RecordingLogger, fake_clock: FakeClock
) -> None:
    codat.set_faults(script=["drop", 503], path_pattern="/connections/")
    result = uploader(client, log, fake_clock).upload([file_of(f"d-{i}.pdf", b"%PDF d") for i in range(4)])
    uploads = admin_json(codat, "GET", "/_sandbox/codat/uploads")
    assert len(uploads["files"]) == 4 and len(result.uploaded) == 4
    # two retry waits, and a settle wait before the dropped request's files are looked for
    assert len(fake_clock.sleeps) >= 3


def test_upload_sink_batches_and_reports(
    client: CodatFilesClient, codat: RunningServer, log: RecordingLogger, fake_clock: FakeClock
) -> None:
    sink = CodatUploadSink(uploader(client, log, fake_clock))
    when = datetime(2026, 1, 1, tzinfo=UTC)
    for f in forty_five():
        sink.add(DocumentItem(key=f.key, cursor=when, name=f.name, media_type="application/pdf", open=f.open))
        assert sink.pending < sink.batch_size == 40
    assert sink.flush() == 42
    assert sink.skipped == 3 and sink.pending == 0
    sink.close()
    assert admin_json(codat, "GET", "/_sandbox/codat/uploads")["requests"] == 3


@pytest.mark.parametrize("status", [401, 402, 404])
def test_upload_failures_are_classified(
    client: CodatFilesClient, codat: RunningServer, log: RecordingLogger, fake_clock: FakeClock, status: int
) -> None:
    from adapters.failures import AdapterError

    codat.set_faults(script=[status])
    with pytest.raises(AdapterError) as info:
        uploader(client, log, fake_clock).upload([file_of("a.pdf", b"%PDF")])
    assert info.value.failure.status == status and fake_clock.sleeps == []


def test_batch_codat_refuses_is_split_and_only_the_culprit_rejected(
    client: CodatFilesClient, codat: RunningServer, log: RecordingLogger, fake_clock: FakeClock
) -> None:
    # a local limit looser than Codat's lets a file through that Codat then refuses
    loose = uploader(client, log, fake_clock, max_bytes=50 * 1024 * 1024)
    files = [file_of(f"s-{i}.pdf", b"%PDF s") for i in range(4)]
    files.insert(2, file_of("too-big.pdf", b"\0" * (TEN_MB + 1)))
    result = loose.upload(files)
    assert sorted(result.uploaded) == ["s-0.pdf", "s-1.pdf", "s-2.pdf", "s-3.pdf"]
    assert [r.name for r in result.rejected] == ["too-big.pdf"]
    assert "refused by Codat" in result.rejected[0].reason and "10 MB" in result.rejected[0].reason
    assert len(admin_json(codat, "GET", "/_sandbox/codat/uploads")["files"]) == 4
    assert any("too-big.pdf" in w for w in log.warnings())
