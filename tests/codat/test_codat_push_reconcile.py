"""Push reconciliation by content: a retried or pending upload counts as arrived only if it is ours.

The attack: another uploader's file with the same name is already listed when our
upload's answer goes missing. Counting by name would call ours arrived and never send
it. Each case runs in every archive layout, since the proof reads that day's archive.
"""

from __future__ import annotations

import base64
import hashlib
import io
from collections import Counter
from datetime import UTC, datetime

import pytest

from adapters.codat.client import CodatFilesClient
from adapters.codat.filetypes import ALLOWED_TYPES
from adapters.codat.upload import UploadFile
from adapters.ledger import Ledger
from lib.jobcontext import FakeClock, RecordingLogger
from sandbox.server import RunningServer
from tests.codat.conftest import COMPANY, admin_json
from tests.codat.test_codat_upload_sandbox import MemoryCustomData, uploader

LAYOUTS = [("root", "paren"), ("source_type", "underscore"), ("date", "dash"), ("nested", "paren")]


def ours(name: str, data: bytes, key: str | None = None) -> UploadFile:
    return UploadFile(
        key=key or f"doc-{name}-{hashlib.sha256(data).hexdigest()[:8]}",
        name=name,
        open=lambda: io.BytesIO(data),
        media_type="application/octet-stream",
    )


def other_uploader_adds(codat: RunningServer, name: str, data: bytes) -> None:
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
    body = {
        "fileName": name,
        "uploaded": now,
        "sourceType": "Other",
        "content_b64": base64.b64encode(data).decode(),
    }
    admin_json(codat, "POST", f"/_sandbox/codat/companies/{COMPANY}/files", json=body)


def arrived(codat: RunningServer) -> Counter[tuple[str, str]]:
    files = admin_json(codat, "GET", "/_sandbox/codat/uploads")["files"]
    return Counter((f["file_name"], f["sha256"]) for f in files)


@pytest.fixture(params=LAYOUTS, ids=lambda v: f"{v[0]}-{v[1]}")
def layout(request: pytest.FixtureRequest, codat: RunningServer) -> tuple[str, str]:
    admin_json(
        codat,
        "PUT",
        "/_sandbox/codat/variant",
        json={"layout": request.param[0], "numbering": request.param[1]},
    )
    return request.param


def test_lost_request_with_a_same_named_file_listed_is_sent_again(
    layout: tuple[str, str],
    client: CodatFilesClient,
    codat: RunningServer,
    log: RecordingLogger,
    fake_clock: FakeClock,
) -> None:
    other_uploader_adds(codat, "report.pdf", b"%PDF someone else's report")
    codat.set_faults(script=[503], path_pattern="/connections/")  # ours never arrives
    data = b"%PDF our report"
    result = uploader(client, log, fake_clock).upload([ours("report.pdf", data)])
    assert result.uploaded == ["report.pdf"] and result.reconciled == []
    assert arrived(codat)[("report.pdf", hashlib.sha256(data).hexdigest())] == 1
    assert any("not found with their content" in w for w in log.warnings())


def test_lost_answer_is_proven_arrived_by_content_and_not_resent(
    layout: tuple[str, str],
    client: CodatFilesClient,
    codat: RunningServer,
    log: RecordingLogger,
    fake_clock: FakeClock,
) -> None:
    other_uploader_adds(codat, "report.pdf", b"%PDF someone else's report")
    admin_json(codat, "PUT", "/_sandbox/codat/lose-upload-answers", json={"count": 1})
    data = b"%PDF our report"
    result = uploader(client, log, fake_clock).upload([ours("report.pdf", data)])
    assert result.reconciled == ["report.pdf"] and result.requests == 1
    assert arrived(codat)[("report.pdf", hashlib.sha256(data).hexdigest())] == 1


def test_two_pending_files_of_one_name_are_told_apart_by_content(
    layout: tuple[str, str],
    client: CodatFilesClient,
    codat: RunningServer,
    log: RecordingLogger,
    fake_clock: FakeClock,
) -> None:
    """Both sent in one request whose answer is lost; a rerun finds one arrived, not both."""
    api = MemoryCustomData()
    ledger = Ledger(api, namespace="codat-push/test")  # type: ignore[arg-type]
    first, second = b"%PDF first statement", b"%PDF second statement"
    files = [ours("statement.pdf", first, "doc-1"), ours("statement.pdf", second, "doc-2")]
    uploader(client, log, fake_clock, ledger).upload(files[:1])
    # a crash after the request arrived, before "done" was written; the second was never sent
    for value in api.rows.values():
        value["state"] = "pending"
    again = uploader(client, log, fake_clock, ledger).upload(files)
    assert again.reconciled == ["statement.pdf"] and again.uploaded == ["statement.pdf"]
    got = arrived(codat)
    assert got[("statement.pdf", hashlib.sha256(first).hexdigest())] == 1
    assert got[("statement.pdf", hashlib.sha256(second).hexdigest())] == 1


def test_generic_media_types_are_replaced_from_the_type_table(
    client: CodatFilesClient, codat: RunningServer, log: RecordingLogger, fake_clock: FakeClock
) -> None:
    files = [
        ours("sheet.xlsx", b"PK sheet"),
        ours("scan.jpg", b"\xff\xd8 scan"),
        UploadFile(
            key="k-csv",
            name="data.csv",
            open=lambda: io.BytesIO(b"a,b"),
            media_type="text/csv; charset=utf-8",
        ),
        UploadFile(key="k-none", name="deck.pptx", open=lambda: io.BytesIO(b"PK deck")),
    ]
    uploader(client, log, fake_clock).upload(files)
    sent = {
        f["file_name"]: f["media_type"] for f in admin_json(codat, "GET", "/_sandbox/codat/uploads")["files"]
    }
    assert sent == {
        "sheet.xlsx": ALLOWED_TYPES["xlsx"],
        "scan.jpg": "image/jpeg",
        "data.csv": "text/csv; charset=utf-8",
        "deck.pptx": ALLOWED_TYPES["pptx"],
    }
