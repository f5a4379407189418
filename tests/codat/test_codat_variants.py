"""Both Codat connectors across the sandbox's variants of everything Codat has not confirmed.

Each variant (:mod:`sandbox.codat.variants`) is one answer to every open question:
archive layout, duplicate numbering, how ``date`` selects files, the empty-day answer,
the error body shape and the rate-limit headers. For each, the pull must land every
listed file exactly once with its own bytes (same-name files on one day under
different source types, zone-less and offset times near midnight included), a rerun
must add nothing, and a file listed with an ``uploaded`` three days behind the stored
cursor must still land. The push must deliver every document once, with proper media
types, through injected 429s and 503s.

``make test`` runs two variants, drawn from a seed that changes every day (shown in the
test id; ``CODAT_VARIANT_SEED=N`` repeats a draw, ``CODAT_VARIANT_COUNT=N`` draws more).
``make variants-codat`` runs the full cross product (``CODAT_VARIANTS=all``).
"""

from __future__ import annotations

import base64
import copy
import hashlib
import io
import os
from collections.abc import Iterator
from datetime import date, timedelta
from typing import Any

import pytest

import connectors.codat_pull_files as pull
import connectors.codat_push_documents as push
from adapters.codat.filetypes import GENERIC_TYPES
from adapters.codat.layout import ListedFile
from adapters.codat.source import document_key
from adapters.cursor import parse_timestamp
from lib.delta import get_delta_state
from lib.jobcontext import all_source_documents, nuntiq_context
from sandbox.codat.variants import CodatVariant, cross_product, sample
from sandbox.server import RunningServer, serve_in_thread

ZONE = "Europe/Berlin"
API_KEY = "variant-codat-key"
COMPANY = "7d9e0c1a-2b3c-4d5e-8f90-a1b2c3d4e5f6"
CONNECTION = "0f1e2d3c-4b5a-4697-8877-665544332211"
SEED = {
    "api_key": API_KEY,
    "companies": {COMPANY: {"connections": [CONNECTION], "files": 30, "days": 3}},
    "duplicate_every": 3,
    "zoneless_every": 4,
    "offset_every": 5,
}
#: files that make layouts, numbering and date readings disagree
TRICKY = [
    ("twin.pdf", "Banking", "2026-01-05T10:00:00Z"),
    ("twin.pdf", "Accounting", "2026-01-05T09:00:00Z"),  # same name, same day, other source type
    ("twin.pdf", "Banking", "2026-01-05T11:00:00Z"),
    ("twin.pdf", "Other", "2026-01-06T00:10:00"),  # zone-less Berlin: 23:10Z on the 5th
    ("midnight-a.csv", "Other", "2026-01-06T00:30:00"),  # raw 6th, UTC 5th, local 6th
    ("midnight-b.csv", "Other", "2026-01-06T22:30:00-05:00"),  # raw 6th, UTC and local 7th
    ("midnight-c.csv", "Other", "2026-01-06T23:45:00Z"),  # raw and UTC 6th, local 7th
    ("lonely.pdf", None, "2026-01-20T22:30:00-05:00"),  # alone: its raw date is empty elsewhere
]


def chosen_variants() -> list[tuple[str, CodatVariant]]:
    if os.environ.get("CODAT_VARIANTS") == "all":
        return [("all", v) for v in cross_product()]
    seed = int(os.environ.get("CODAT_VARIANT_SEED") or date.today().toordinal())
    count = int(os.environ.get("CODAT_VARIANT_COUNT") or 2)
    return [(f"seed{seed}", v) for v in sample(seed, count)]


VARIANTS = chosen_variants()


@pytest.fixture(scope="module")
def codat_variant_server() -> Iterator[RunningServer]:
    server = serve_in_thread("codat", local_timezone=ZONE, api_key=API_KEY, seed_overrides=SEED)
    try:
        yield server
    finally:
        server.stop()


_customers = iter(range(30000001, 30099999))


def admin(server: RunningServer, method: str, path: str, **kwargs: Any) -> Any:
    with server.admin() as client:
        response = client.request(method, path, **kwargs)
        response.raise_for_status()
        return response.json()


def add_file(
    server: RunningServer, name: str, kind: str | None, uploaded: str, data: bytes | None = None
) -> None:
    content = data or f"{name} {kind} {uploaded}".encode()
    body = {
        "fileName": name,
        "sourceType": kind,
        "uploaded": uploaded,
        "content_b64": base64.b64encode(content).decode(),
    }
    admin(server, "POST", f"/_sandbox/codat/companies/{COMPANY}/files", json=body)


@pytest.fixture(params=VARIANTS, ids=lambda v: f"{v[0]}-{v[1].label()}")
def codat(request: pytest.FixtureRequest, codat_variant_server: RunningServer) -> RunningServer:
    variant: CodatVariant = request.param[1]
    server = codat_variant_server
    admin(server, "POST", "/_sandbox/codat/seed", json={"overrides": SEED, "variant": variant.as_dict()})
    admin(server, "PUT", "/_sandbox/faults", json={})
    for name, kind, uploaded in TRICKY:
        add_file(server, name, kind, uploaded)
    return server


def settings_for(codat: RunningServer, **config: Any) -> dict[str, Any]:
    return {
        "secrets": {"codat_api_key": API_KEY},
        "config": {
            "connector_name": "codat_variants",
            "codat": {"server_url": codat.url, "timeout_s": 10, "local_timezone": ZONE, **config},
            "retry": {"max_total": 20, "max_wait": 0.05, "initial_wait": 0.01},
        },
        "job_params": {"lookback_days": 3650},
    }


def truth(codat: RunningServer) -> dict[str, str]:
    """Delivery key -> sha256 of every file the sandbox holds for the company."""
    out: dict[str, str] = {}
    for f in admin(codat, "GET", f"/_sandbox/codat/companies/{COMPANY}/files"):
        listed = ListedFile(
            f["fileName"], None, f["sourceType"], f["uploaded"], parse_timestamp(f["uploaded"]), 0
        )
        out[document_key(COMPANY, listed)] = f["sha256"]
    return out


def landed(context: Any) -> dict[str, str]:
    docs = all_source_documents(context)
    keys = [d["external_reference"] for d in docs]
    assert len(keys) == len(set(keys)), "a file landed twice"
    return {d["external_reference"]: d["files"][0]["sha256"] for d in docs}


def test_pull_lands_every_file_once_rerun_adds_nothing_late_file_lands(
    codat: RunningServer, nuntiq_server: RunningServer
) -> None:
    customer = str(next(_customers))
    settings = settings_for(codat, company_ids=[COMPANY])

    def run() -> dict[str, Any]:
        result = pull.run(nuntiq_context(nuntiq_server, customer, copy.deepcopy(settings)))
        company: dict[str, Any] = result["companies"][COMPANY]
        assert company["refused"] == []
        return company

    context = nuntiq_context(nuntiq_server, customer, copy.deepcopy(settings))
    codat.set_faults(script=[429, 503, "drop"], retry_after=0)
    first = run()
    expected = truth(codat)
    assert landed(context) == expected and first["uploaded"] == len(expected)

    assert run()["uploaded"] == 0
    assert landed(context) == expected

    state = get_delta_state(context.api, "codat_variants", pull.stream_name(COMPANY))
    assert state is not None
    behind = parse_timestamp(state["cursor"]) - timedelta(days=3)
    add_file(codat, "late.pdf", "Banking", behind.strftime("%Y-%m-%dT%H:%M:%SZ"))
    add_file(codat, "twin.pdf", "Banking", (behind + timedelta(minutes=1)).strftime("%Y-%m-%dT%H:%M:%S"))
    third = run()
    assert third["uploaded"] == 2
    assert landed(context) == truth(codat)
    assert run()["uploaded"] == 0


def test_push_delivers_every_document_once_with_its_media_type(
    codat: RunningServer, nuntiq_server: RunningServer
) -> None:
    customer = str(next(_customers))
    settings = settings_for(codat, company_id=COMPANY, connection_id=CONNECTION)
    context = nuntiq_context(nuntiq_server, customer, copy.deepcopy(settings))
    contents = {f"{i}": f"%PDF pushed {i}".encode() for i in range(5)}
    for i, data in contents.items():
        name = "statement.pdf" if i in ("0", "1") else f"doc-{i}.xlsx"  # two documents, one name
        context.api.upload_source_documents(files=[(name, io.BytesIO(data), "application/octet-stream")])
    codat.set_faults(script=[429, 503], retry_after=0, path_pattern="/connections/")
    result = push.run(nuntiq_context(nuntiq_server, customer, copy.deepcopy(settings)))
    assert result["uploaded"] + result["reconciled"] == 5
    uploads = admin(codat, "GET", "/_sandbox/codat/uploads")["files"]
    assert sorted(f["sha256"] for f in uploads) == sorted(
        hashlib.sha256(d).hexdigest() for d in contents.values()
    )
    assert not any(f["media_type"] in GENERIC_TYPES for f in uploads)
    again = push.run(nuntiq_context(nuntiq_server, customer, copy.deepcopy(settings)))
    assert again["uploaded"] == 0 and again["upload_requests"] == 0
