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
connector tests write to always runs live. ``Authorization`` is dropped from recorded
requests and API keys and pre-signed URL signatures are scrubbed from response bodies.
"""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import pytest

from adapters.connect import ConnectSettings, build_client
from sandbox.connect.app import DEFAULT_API_KEY
from sandbox.server import RunningServer, serve_in_thread
from sandbox.testing import FakeClock

CASSETTES = Path(__file__).resolve().parents[2] / "fixtures" / "cassettes" / "connect"
#: endpoint the client is given when replaying: never contacted, VCR answers instead
REPLAY_ENDPOINT = "http://127.0.0.1:9/public/v1"

_KEY_PATTERN = re.compile(r"ApiKey\s+[A-Za-z0-9:._\-]+")
_SIG_PATTERN = re.compile(r"(sig=)[^&\"'\s]+")


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


@pytest.fixture
def fake_clock() -> FakeClock:
    return FakeClock()


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


def _scrub_text(text: str) -> str:
    for value in secret_values():
        text = text.replace(value, "REDACTED")
    text = _KEY_PATTERN.sub("ApiKey REDACTED", text)
    return _SIG_PATTERN.sub(r"\1REDACTED", text)


def _only_connect(request: Any) -> Any:
    """Record Connect calls only; anything else (the Nuntiq sandbox) is passed through live."""
    if not urlsplit(request.uri).path.startswith("/public/v1"):
        return None
    return request


def _scrub_response(response: dict[str, Any]) -> dict[str, Any]:
    body = response.get("body", {})
    raw = body.get("string")
    if isinstance(raw, bytes):
        with contextlib.suppress(UnicodeDecodeError):
            body["string"] = _scrub_text(raw.decode("utf-8")).encode("utf-8")
    elif isinstance(raw, str):
        body["string"] = _scrub_text(raw)
    headers = response.get("headers", {})
    for name in list(headers):
        if name.lower() in ("set-cookie", "authorization"):
            del headers[name]
    return response


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
    return {
        "record_mode": "rewrite" if recording_target() else "none",
        "match_on": ["method", "path", "query_unordered"],
        "filter_headers": ["authorization", "cookie"],
        "before_record_request": _only_connect,
        "before_record_response": _scrub_response,
        "decode_compressed_response": True,
        "allow_playback_repeats": False,
    }
