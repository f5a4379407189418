"""Fixtures for the Codat tests: a sandbox Codat service, settings, clients, VCR config."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from adapters.codat.client import CodatFilesClient
from adapters.codat.settings import CodatSettings
from sandbox.codat.seed import load_seed
from sandbox.server import RunningServer, serve_in_thread

SEED = load_seed()
API_KEY: str = SEED["api_key"]
COMPANY = "8a210b68-6988-11ed-a1eb-0242ac120002"
CONNECTION = SEED["companies"][COMPANY]["connections"][0]
SMALL_COMPANY = "5c3f1a2e-0d4b-4c55-9a61-7f2b3c4d5e6f"
CASSETTES = Path(__file__).resolve().parents[2] / "fixtures" / "cassettes" / "codat"


class ListLogger:
    """Collects log calls so tests can assert on them."""

    def __init__(self) -> None:
        self.records: list[tuple[str, str, str | None, Any]] = []

    def info(self, message: str, step: str | None = None, detail: Any = None) -> None:
        self.records.append(("info", message, step, detail))

    def warn(self, message: str, step: str | None = None, detail: Any = None) -> None:
        self.records.append(("warn", message, step, detail))

    def error(self, message: str, step: str | None = None, detail: Any = None) -> None:
        self.records.append(("error", message, step, detail))

    def warnings(self) -> list[str]:
        return [r[1] for r in self.records if r[0] == "warn"]


class FakeClock:
    """A clock and sleep pair: sleeping advances the clock, nothing really waits."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


@pytest.fixture(scope="module")
def codat_server() -> Iterator[RunningServer]:
    server = serve_in_thread("codat")
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def codat(codat_server: RunningServer) -> Iterator[RunningServer]:
    """The module's sandbox, reseeded and fault-free for each test."""
    with codat_server.admin() as admin:
        admin.post("/_sandbox/codat/seed", json={}).raise_for_status()
        admin.put("/_sandbox/faults", json={}).raise_for_status()
        admin.post("/_sandbox/stats/reset").raise_for_status()
    yield codat_server


@pytest.fixture
def settings(codat: RunningServer) -> CodatSettings:
    return CodatSettings(server_url=codat.url, company_ids=(COMPANY,), connection_id=CONNECTION, timeout_s=10)


@pytest.fixture
def client(settings: CodatSettings) -> Iterator[CodatFilesClient]:
    c = CodatFilesClient.create(settings, API_KEY)
    try:
        yield c
    finally:
        c.close()


@pytest.fixture
def log() -> ListLogger:
    return ListLogger()


@pytest.fixture
def fake_clock() -> FakeClock:
    return FakeClock()


def admin_json(server: RunningServer, method: str, path: str, **kwargs: Any) -> Any:
    with httpx.Client(base_url=server.url, timeout=30) as admin:
        response = admin.request(method, path, **kwargs)
        response.raise_for_status()
        return response.json()


# -- VCR (pytest-recording) --------------------------------------------------------------

#: the real key, only when re-recording against Codat itself
LIVE_KEY = os.environ.get("CODAT_API_KEY")


def _scrub_response(response: dict[str, Any]) -> dict[str, Any]:
    body = response.get("body", {}).get("string")
    if isinstance(body, bytes) and LIVE_KEY and LIVE_KEY.encode() in body:
        response["body"]["string"] = body.replace(LIVE_KEY.encode(), b"<CODAT_API_KEY>")
    for header in ("Set-Cookie", "set-cookie"):
        response.get("headers", {}).pop(header, None)
    return response


def _scrub_request(request: Any) -> Any:
    if LIVE_KEY and request.body and isinstance(request.body, bytes) and LIVE_KEY.encode() in request.body:
        request.body = request.body.replace(LIVE_KEY.encode(), b"<CODAT_API_KEY>")
    return request


@pytest.fixture(scope="module")
def vcr_config() -> dict[str, Any]:
    return {
        # replay-only unless a real key is supplied for re-recording
        "record_mode": "once" if LIVE_KEY else "none",
        "filter_headers": [("authorization", "<redacted>"), ("cookie", None)],
        "before_record_request": _scrub_request,
        "before_record_response": _scrub_response,
        # order-insensitive query matching; the host differs between recordings (ephemeral port)
        "match_on": ["method", "path", "query"],
        "decode_compressed_response": True,
    }


@pytest.fixture(scope="module")
def vcr_cassette_dir() -> str:
    return str(CASSETTES)
