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
from adapters.testing import RecordingLogger, cassette_config
from sandbox.codat.seed import load_seed
from sandbox.server import RunningServer, serve_in_thread

SEED = load_seed()
API_KEY: str = SEED["api_key"]
COMPANY = "8a210b68-6988-11ed-a1eb-0242ac120002"
CONNECTION = SEED["companies"][COMPANY]["connections"][0]
SMALL_COMPANY = "5c3f1a2e-0d4b-4c55-9a61-7f2b3c4d5e6f"
CASSETTES = Path(__file__).resolve().parents[2] / "fixtures" / "cassettes" / "codat"


@pytest.fixture(scope="session")
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
def log() -> RecordingLogger:
    return RecordingLogger()


def admin_json(server: RunningServer, method: str, path: str, **kwargs: Any) -> Any:
    with httpx.Client(base_url=server.url, timeout=30) as admin:
        response = admin.request(method, path, **kwargs)
        response.raise_for_status()
        return response.json()


# -- VCR (pytest-recording) --------------------------------------------------------------
#
# Cassettes under fixtures/cassettes/codat are replayed by default (record mode "none":
# an unmatched request is an error, never a live call). To re-record:
#   against the sandbox:  pytest tests/codat/test_codat_cassettes.py --record-mode=all
#   against Codat itself: CODAT_API_KEY=... CODAT_COMPANY_ID=... CODAT_CONNECTION_ID=... pytest ...
# Company and connection ids are normalised when matching, so cassettes recorded against
# any company replay with the sandbox's ids.

#: the real key, only when re-recording against Codat itself
LIVE_KEY = os.environ.get("CODAT_API_KEY")
#: secrets that must never reach a cassette
SECRET_VALUES = [v for v in (LIVE_KEY, API_KEY) if v]


_ID_AFTER = ("companies", "connections")


def _normalised_path(path: str) -> str:
    parts = path.split("/")
    for i in range(1, len(parts)):
        if parts[i - 1] in _ID_AFTER:
            parts[i] = "{id}"
    return "/".join(parts)


def _codat_path(r1: Any, r2: Any) -> None:
    assert _normalised_path(r1.path) == _normalised_path(r2.path), f"{r1.path} != {r2.path}"


def pytest_recording_configure(config: Any, vcr: Any) -> None:
    vcr.register_matcher("codat_path", _codat_path)


@pytest.fixture(scope="module")
def vcr_config(request: pytest.FixtureRequest) -> dict[str, Any]:
    # replay-only ("none") unless --record-mode is given or a real key is supplied
    cli_mode = request.config.getoption("--record-mode")
    # host/port differ between recordings (ephemeral sandbox port); query order is ignored
    return cassette_config(
        SECRET_VALUES,
        match_on=["method", "codat_path", "query"],
        record_mode=cli_mode or ("all" if LIVE_KEY else "none"),
    )


@pytest.fixture(scope="module")
def vcr_cassette_dir() -> str:
    return str(CASSETTES)
