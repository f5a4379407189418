"""The Acme source and connector through the REST kit, from cassettes.

Replay-only by default. Re-record against the local sandbox with
``ACME_RECORD=sandbox .venv/bin/python -m pytest tests/rest/test_acme_cassettes.py``, or
against the real API with ``ACME_API_URL`` and ``ACME_TOKEN`` set (the scripted-fault
cassette stays sandbox-recorded: a real API cannot be made to answer 429 on demand).
Only Acme traffic is recorded; the Nuntiq sandbox the connector writes to runs live. The
``Authorization`` header is dropped and the token scrubbed from anything recorded.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
import yaml

from adapters.http_status import DEFAULT_STATUS_TABLE
from adapters.rest import RestSource
from adapters.rest.errors import make_rest_classifier
from adapters.retry import Retrier
from connectors import acme_pull_suppliers
from lib.jobcontext import FakeClock, nuntiq_context
from sandbox.acme.app import DEFAULT_TOKEN
from sandbox.server import RunningServer, serve_in_thread
from tests.rest.conftest import KitContext

CASSETTES = Path(__file__).resolve().parents[2] / "fixtures" / "cassettes" / "acme"
REPLAY_URL = "http://127.0.0.1:9"  # never contacted: VCR answers
SINCE = datetime(2026, 3, 1, tzinfo=UTC)
PAGE = 40


def recording_target() -> str | None:
    if os.environ.get("ACME_API_URL") and os.environ.get("ACME_TOKEN"):
        return "real"
    if os.environ.get("ACME_RECORD") == "sandbox":
        return "sandbox"
    return None


def secret_values() -> list[str]:
    return [v for v in (DEFAULT_TOKEN, os.environ.get("ACME_TOKEN")) if v]


def _scrub(text: str) -> str:
    for value in secret_values():
        text = text.replace(value, "REDACTED")
    return text


def _only_acme(request: Any) -> Any:
    return request if urlsplit(request.uri).path.rstrip("/").endswith("/suppliers") else None


def _scrub_response(response: dict[str, Any]) -> dict[str, Any]:
    body = response.get("body", {})
    raw = body.get("string")
    if isinstance(raw, bytes):
        body["string"] = _scrub(raw.decode("utf-8", "replace")).encode("utf-8")
    elif isinstance(raw, str):
        body["string"] = _scrub(raw)
    for name in list(response.get("headers", {})):
        if name.lower() in ("set-cookie", "authorization"):
            del response["headers"][name]
    return response


@pytest.fixture(scope="module")
def vcr_cassette_dir() -> str:
    return str(CASSETTES)


@pytest.fixture
def vcr_config() -> dict[str, Any]:
    return {
        "record_mode": "rewrite" if recording_target() else "none",
        "match_on": ["method", "path", "query"],  # vcrpy's query matcher ignores parameter order
        "filter_headers": ["authorization", "cookie"],
        "before_record_request": _only_acme,
        "before_record_response": _scrub_response,
        "decode_compressed_response": True,
        "allow_playback_repeats": False,
    }


@pytest.fixture
def acme() -> Iterator[tuple[str, str]]:
    """(base URL, token): replay target, sandbox or the real API."""
    target = recording_target()
    if target == "real":
        yield os.environ["ACME_API_URL"], os.environ["ACME_TOKEN"]
    elif target == "sandbox":
        server = serve_in_thread("acme", count=150)
        try:
            yield server.url, DEFAULT_TOKEN
        finally:
            server.stop()
    else:
        yield REPLAY_URL, "replay-only-token"


@pytest.mark.vcr
def test_suppliers_source_replays(acme: tuple[str, str]) -> None:
    context = KitContext(secrets={"acme_token": acme[1]})
    stream = acme_pull_suppliers.suppliers_stream(PAGE)
    with RestSource.for_context(context, stream, base_url=acme[0]) as source:
        items = list(source.fetch_since(SINCE))
    assert items, "the cassette holds at least one page"
    assert len({i.key for i in items}) == len(items)
    assert all(i.cursor is not None and i.cursor >= SINCE for i in items)
    assert source.pages_read >= 2


@pytest.mark.vcr(record_mode="none" if recording_target() != "sandbox" else "rewrite")
def test_rate_limit_and_503_replay_without_real_sleep(acme: tuple[str, str]) -> None:
    """Recorded against the sandbox with a scripted 429 and 503 (Retry-After: 3) before the 200s."""
    if recording_target() == "sandbox":
        plan = {"script": [429, 503], "retry_after": 3}
        httpx.put(f"{acme[0]}/_sandbox/faults", json=plan).raise_for_status()
    clock = FakeClock()
    stream = acme_pull_suppliers.suppliers_stream(PAGE)
    classify = make_rest_classifier(stream.name, DEFAULT_STATUS_TABLE, stream.auth.hint)
    retrier = Retrier(classify, source=stream.name, sleep=clock.sleep, clock=clock.clock)
    auth = stream.auth.build(KitContext(secrets={"acme_token": acme[1]}))
    client = httpx.Client(base_url=acme[0], auth=auth)
    with RestSource(stream, client, retrier) as source:
        items = list(source.fetch_since(SINCE))
    assert items
    assert len(clock.sleeps) == 2 and all(wait >= 3 for wait in clock.sleeps)


@pytest.mark.vcr
def test_connector_replays_into_nuntiq(acme: tuple[str, str], nuntiq: RunningServer) -> None:
    settings = {
        "secrets": {"acme_token": acme[1]},
        "config": {"connector_name": "acme_cassette", "api_url": acme[0], "page_size": PAGE},
    }
    context = nuntiq_context(nuntiq, settings=settings, params={"since_override": "2026-03-01T00:00:00Z"})
    result = acme_pull_suppliers.run(context)
    assert result["written"]["suppliers"] > 0
    stored = context.api.get("/v1/supplier", params={"limit": 200})["items"]
    assert len(stored) == result["written"]["suppliers"]
    assert all(s["supplier_number"] and s["supplier_name"] for s in stored)


def test_committed_cassettes_hold_no_secret() -> None:
    files = sorted(CASSETTES.glob("*.yaml"))
    assert len(files) >= 3, "cassettes are committed"
    for path in files:
        text = path.read_text(encoding="utf-8")
        for secret in secret_values():
            assert secret not in text, f"{path.name} contains a secret"
        for interaction in yaml.safe_load(text)["interactions"]:
            headers = {k.lower() for k in interaction["request"].get("headers", {})}
            assert "authorization" not in headers, path.name
            assert urlsplit(interaction["request"]["uri"]).path.endswith("/suppliers"), path.name
