"""The Codat plug-in: its connectors, streams, settings, checks, demo changes, proof wiring."""

from __future__ import annotations

import base64
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import httpx

from adapters.codat.settings import config_json_schema
from adapters.protocol import Ordering
from lib.api_client import ApiClient
from lib.integrations.base import DemoConnector, Integration, SandboxTarget, StreamInfo
from lib.runner import issue_token

#: the seed's small company (fixtures/codat/seed.json)
DEMO_COMPANY = "5c3f1a2e-0d4b-4c55-9a61-7f2b3c4d5e6f"


def add_codat_file(env: Any) -> None:
    """A company uploads one more file to Codat after the first pull."""
    url = env.services.get("codat").url
    uploaded = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S")  # zone-less, as Codat may send it
    body = {
        "fileName": "late-statement.pdf",
        "uploaded": uploaded,
        "sourceType": "Banking",
        "content_b64": base64.b64encode(b"%PDF-1.4 late statement\n").decode(),
    }
    httpx.post(
        f"{url}/_sandbox/codat/companies/{DEMO_COMPANY}/files", json=body, timeout=30
    ).raise_for_status()


def _nuntiq_api(env: Any) -> ApiClient:
    nuntiq = env.services.get("nuntiq").url
    customer = str(env.settings["customer_number"])
    return ApiClient(nuntiq, issue_token(nuntiq, customer), customer)


def seed_nuntiq_documents(env: Any) -> None:
    """Three Nuntiq source documents to push (one of them a type Codat refuses)."""
    api = _nuntiq_api(env)
    for name, data, media in (
        ("board-minutes.docx", b"PK demo minutes", "application/octet-stream"),
        ("q4-forecast.xlsx", b"PK demo forecast", "application/octet-stream"),
        ("notes.txt", b"a text file Codat does not accept", "text/plain"),
    ):
        api.upload_source_documents(files=[(name, data, media)], document_type="demo")


def add_nuntiq_document(env: Any) -> None:
    api = _nuntiq_api(env)
    api.upload_source_documents(files=[("late-invoice.pdf", b"%PDF-1.4 late", "application/pdf")])


def streams() -> list[StreamInfo]:
    return [
        StreamInfo(
            "codat_files_{company_id}",
            "document",
            "(fileName, uploaded, sourceType)",
            "uploaded",
            Ordering.UNORDERED.value,
            "one unpaginated list of every file, then one archive download per affected date",
        )
    ]


def owns_config(config: Mapping[str, Any]) -> bool:
    return "codat" in config


def checks(context: Any) -> list[Any]:
    from lib.cli.check import check_codat  # the check module asks this registry: import late

    return list(check_codat(context))


def point_at(settings: dict[str, Any], target: SandboxTarget) -> None:
    config = settings["config"]
    codat = dict(config["codat"])
    codat["server_url"] = target.url("codat")
    config["codat"] = codat
    settings["secrets"][codat.get("api_key_secret", "codat_api_key")] = target.key("codat")


INTEGRATION = Integration(
    name="codat",
    connectors=("codat_pull_files", "codat_push_documents"),
    services=("codat",),
    demo=(
        DemoConnector(
            name="codat_pull_files",
            settings="fixtures/settings/codat_pull_files.json",
            between_runs=add_codat_file,
        ),
        DemoConnector(
            name="codat_push_documents",
            settings="fixtures/settings/codat_push_documents.json",
            prepare=lambda env: seed_nuntiq_documents(env),
            between_runs=add_nuntiq_document,
        ),
    ),
    streams=streams,
    settings_schema=config_json_schema,
    owns_config=owns_config,
    checks=checks,
    point_at=point_at,
)
