"""List, download, upload and errors through the real SDK, replayed from committed cassettes.

Replay needs no server: requests are answered from fixtures/cassettes/codat. See
tests/codat/conftest.py for how to re-record (sandbox or, with CODAT_API_KEY, Codat).

Streaming: vcrpy 9.4 patches httpx at the transport (``HTTPTransport.handle_request``).
While recording it reads the whole response body to store it (recording only; the
adapter still writes the archive chunk by chunk); on replay it answers with an
``httpx.ByteStream``, so the SDK's ``stream=True`` download and our ``iter_bytes`` loop
run unchanged. Binary bodies are stored as YAML ``!!binary``. No workaround is needed.
"""

from __future__ import annotations

import hashlib
import io
import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from codat_files.models import errors

from adapters.codat.client import CodatFilesClient
from adapters.codat.errors import classify
from adapters.codat.settings import CodatSettings
from adapters.codat.source import CodatFilesSource
from adapters.failures import AdapterError, FailureClass
from adapters.retry import Retrier
from lib.jobcontext import FakeClock
from sandbox.server import RunningServer, serve_in_thread
from tests.codat.conftest import API_KEY, CASSETTES, COMPANY, CONNECTION, SECRET_VALUES

LIVE = bool(os.environ.get("CODAT_API_KEY"))


@dataclass
class Target:
    """Where requests go: Codat (live re-record), the sandbox (re-record) or nowhere (replay)."""

    url: str
    key: str
    company: str
    connection: str
    server: RunningServer | None

    def set_faults(self, **plan: Any) -> None:
        if self.server is not None:
            self.server.set_faults(**plan)

    def client(self) -> CodatFilesClient:
        return CodatFilesClient.create(CodatSettings(server_url=self.url, timeout_s=30), self.key)


@pytest.fixture
def target(request: pytest.FixtureRequest) -> Iterator[Target]:
    mode = request.config.getoption("--record-mode") or ("all" if LIVE else "none")
    sandbox_only = request.node.name in SANDBOX_ONLY
    if LIVE and not sandbox_only:
        yield Target(
            os.environ.get("CODAT_SERVER_URL", "https://api.codat.io"),
            os.environ["CODAT_API_KEY"],
            os.environ["CODAT_COMPANY_ID"],
            os.environ["CODAT_CONNECTION_ID"],
            None,
        )
    elif mode != "none":
        server = serve_in_thread("codat")
        try:
            yield Target(server.url, API_KEY, COMPANY, CONNECTION, server)
        finally:
            server.stop()
    else:
        # replay: nothing listens here; every request must come from the cassette
        yield Target("http://127.0.0.1:9", API_KEY, COMPANY, CONNECTION, None)


#: faults can only be scripted on the sandbox, so these always record there
SANDBOX_ONLY = {"test_retries_replay_without_sleeping", "test_quota_is_not_retried"}


def retrier(clock: FakeClock) -> Retrier:
    return Retrier(classify, source="codat", sleep=clock.sleep, clock=clock.clock, rand=lambda: 0.5)


@pytest.mark.vcr
def test_list_files(target: Target) -> None:
    client = target.client()
    files = client.list_files(target.company)
    assert files and all(f.file_name and f.uploaded for f in files)
    client.close()


@pytest.mark.vcr
def test_download_one_date_streams_the_archive(target: Target, fake_clock: FakeClock) -> None:
    client = target.client()
    with CodatFilesSource(client, target.company, retrier=retrier(fake_clock)) as source:
        newest = max(f.uploaded for f in source.list_files())
        day = newest.replace(hour=0, minute=0, second=0, microsecond=0)
        items = list(source.fetch_since(day))
        assert items
        for item in items:
            with item.open() as stream:
                data = stream.read()
            assert len(data) == item.size
            assert hashlib.sha256(data).hexdigest()
    client.close()


@pytest.mark.vcr
def test_upload_batch(target: Target) -> None:
    client = target.client()
    client.upload(
        target.company,
        target.connection,
        [
            ("cassette-a.pdf", b"%PDF-1.4 cassette", "application/pdf"),
            ("cassette-b.csv", io.BytesIO(b"a,b\n"), "text/csv"),
        ],
    )
    client.close()


@pytest.mark.vcr
def test_unknown_company_is_not_found(target: Target, tmp_path: Any) -> None:
    client = target.client()
    with pytest.raises(errors.Schema) as info:
        client.download_archive("00000000-0000-0000-0000-000000000000", "2026-01-05", tmp_path / "x.zip")
    failure = classify(info.value)
    assert failure is not None and failure.kind is FailureClass.NOT_FOUND and failure.status == 404
    client.close()


@pytest.mark.vcr
def test_bad_key_is_auth(target: Target) -> None:
    client = CodatFilesClient.create(CodatSettings(server_url=target.url, timeout_s=30), "not-the-key")
    with pytest.raises(errors.Schema) as info:
        client.list_files(target.company)
    failure = classify(info.value)
    assert failure is not None and failure.kind is FailureClass.AUTH
    client.close()


@pytest.mark.vcr
def test_retries_replay_without_sleeping(target: Target, fake_clock: FakeClock) -> None:
    target.set_faults(script=[503, 429], retry_after=30)
    client = target.client()
    files = retrier(fake_clock).call(lambda: client.list_files(target.company), step="codat.list_files")
    assert files
    # two recorded failures, two fake sleeps (the second honours Retry-After: 30)
    assert len(fake_clock.sleeps) == 2 and fake_clock.sleeps[1] >= 30
    client.close()


@pytest.mark.vcr
def test_quota_is_not_retried(target: Target, fake_clock: FakeClock) -> None:
    target.set_faults(script=[402])
    client = target.client()
    with pytest.raises(AdapterError) as info:
        retrier(fake_clock).call(lambda: client.list_files(target.company), step="codat.list_files")
    assert info.value.kind is FailureClass.QUOTA and fake_clock.sleeps == []
    client.close()


def test_cassettes_exist_and_hold_no_secret() -> None:
    import base64

    files = sorted(CASSETTES.glob("*.yaml"))
    names = {f.stem for f in files}
    assert {"test_list_files", "test_download_one_date_streams_the_archive", "test_upload_batch"} <= names
    for path in files:
        text = path.read_text()
        assert "Basic " not in text, path.name
        for secret in SECRET_VALUES:
            assert secret not in text, path.name
            assert base64.b64encode(secret.encode()).decode() not in text, path.name
        assert "<redacted>" in text, path.name  # the Authorization header was there, and scrubbed
