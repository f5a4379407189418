"""Fixtures for the Connect tests: sandbox service, clients, fake clock, VCR configuration.

Cassettes live in ``fixtures/cassettes/connect`` and are replayed only (record mode
``none``) unless re-recording is asked for:

* against the local sandbox:
  ``CONNECT_RECORD=sandbox .venv/bin/pytest tests/connect/test_connect_cassettes.py``
* against real Connect: set ``CONNECT_API_KEY`` (``ApiKey SU-...:...``) and ``CONNECT_ENDPOINT``
  (``https://api.connect.cloudblue.com/public/v1``), plus ``CONNECT_MEDIA_FOLDER``
  (``<folder type>/<folder name>``) for the media-files cassette. The scripted 429
  cassette stays sandbox-recorded (real Connect cannot be made to answer 429 on demand).

Only Connect traffic (paths under ``/public/v1``) is recorded; the Nuntiq sandbox the
connector tests write to always runs live. Scrubbing is the test kit's
(:mod:`adapters.testing`): secret headers dropped, API keys and pre-signed URL signatures
scrubbed from query strings and both bodies.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import pytest

from adapters.connect import ConnectSettings, build_client
from adapters.testing import SecretScrubber, cassette_config
from sandbox.connect.app import DEFAULT_API_KEY
from sandbox.server import RunningServer, serve_in_thread

CASSETTES = Path(__file__).resolve().parents[2] / "fixtures" / "cassettes" / "connect"
#: endpoint the client is given when replaying: never contacted, VCR answers instead
REPLAY_ENDPOINT = "http://127.0.0.1:9/public/v1"



# -- sandbox -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def connect_server() -> Iterator[RunningServer]:
    server = serve_in_thread("connect")
    try:
        yield server
    finally:
        server.stop()


def reset_connect(server: RunningServer, seed: int = 1, counts: dict[str, int] | None = None) -> None:
    with server.admin() as admin:
        admin.put("/_sandbox/faults", json={}).raise_for_status()
        admin.put("/_sandbox/connect/variants", json={}).raise_for_status()
        admin.post(
            "/_sandbox/connect/generate", json={"seed": seed, "counts": counts or {}}
        ).raise_for_status()
        admin.post("/_sandbox/stats/reset").raise_for_status()


@pytest.fixture
def connect(connect_server: RunningServer) -> RunningServer:
    """The module's sandbox, regenerated with the default data set and no faults."""
    reset_connect(connect_server)
    return connect_server


def make_client(url: str, *, page_size: int = 100, api_key: str = DEFAULT_API_KEY) -> Any:
    return build_client(ConnectSettings(endpoint=url, page_size=page_size), api_key)


# -- VCR -----------------------------------------------------------------------------------


def recording_target() -> str | None:
    """'real' (CONNECT_API_KEY + CONNECT_ENDPOINT set), 'sandbox' (CONNECT_RECORD=sandbox) or None."""
    if os.environ.get("CONNECT_API_KEY") and os.environ.get("CONNECT_ENDPOINT"):
        return "real"
    if os.environ.get("CONNECT_RECORD") == "sandbox":
        return "sandbox"
    return None


def secret_values() -> list[str]:
    values = [DEFAULT_API_KEY, DEFAULT_API_KEY.split(":", 1)[1]]
    real = os.environ.get("CONNECT_API_KEY")
    if real:
        values += [real, real.split(":", 1)[-1]]
    return [v for v in values if v]


def _only_connect(request: Any) -> Any:
    """Record Connect calls only (scrubbed by the test kit); the Nuntiq sandbox stays live."""
    if not urlsplit(request.uri).path.startswith("/public/v1"):
        return None
    return SecretScrubber(secret_values()).request(request)


def query_parts(uri: str) -> list[str]:
    """The query as a sorted list of decoded ``&`` parts (RQL terms, limit, offset...)."""
    query = urlsplit(uri).query
    return sorted(unquote(p) for p in query.split("&") if p)


def _query_unordered(r1: Any, r2: Any) -> None:
    assert query_parts(r1.uri) == query_parts(r2.uri), f"{query_parts(r1.uri)} != {query_parts(r2.uri)}"


def pytest_recording_configure(config: Any, vcr: Any) -> None:
    vcr.register_matcher("query_unordered", _query_unordered)


@pytest.fixture(scope="module")
def vcr_cassette_dir() -> str:
    return str(CASSETTES)


@pytest.fixture
def vcr_config() -> dict[str, Any]:
    return cassette_config(
        secret_values(),
        match_on=["method", "path", "query_unordered"],
        before_record_request=_only_connect,
        record_mode="rewrite" if recording_target() else "none",
        allow_playback_repeats=False,
    )
