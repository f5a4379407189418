"""Delivered by what is not yet delivered: per-day summaries, their cost, late files, DST.

The cost claim is measured, not asserted in prose: an idle run over a company's whole
history makes the same number of custom-data calls whether the history holds 100 files
or 3,000, and new files cost one ledger list between them.
"""

from __future__ import annotations

import base64
import copy
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

import connectors.codat_pull_files as pull
from adapters.codat.delivered import BASELINE, DeliveryRecord
from adapters.codat.layout import ListedFile
from adapters.codat.source import document_key
from adapters.ledger import Ledger
from adapters.retry import Retrier
from lib.jobcontext import nuntiq_context
from sandbox.server import RunningServer
from tests.codat.conftest import API_KEY, admin_json
from tests.codat.test_codat_upload_sandbox import MemoryCustomData

COMPANY = "de1ade1a-0000-4000-8000-00000000d0d0"


class CountingCustomData(MemoryCustomData):
    def __init__(self) -> None:
        super().__init__()
        self.calls: list[str] = []

    def get(self, path: str, params: Mapping[str, Any] | None = None, extra_headers: Any = None) -> Any:
        self.calls.append(f"GET {path} {dict(params or {}).get('key_prefix')}")
        return super().get(path, params, extra_headers)

    def put(self, path: str, data: Any = None, extra_headers: Any = None) -> Any:
        self.calls.append(f"PUT {path}")
        return super().put(path, data, extra_headers)


def history(files: int, days: int, start: datetime = datetime(2025, 1, 1, 9, tzinfo=UTC)) -> list[ListedFile]:
    out = []
    for i in range(files):
        moment = start + timedelta(days=i % days, minutes=i // days)
        raw = moment.strftime("%Y-%m-%dT%H:%M:%SZ")
        out.append(ListedFile(f"f-{i:05d}.pdf", None, "Other", raw, moment, i))
    return out


def key(listed: ListedFile) -> str:
    return document_key(COMPANY, listed)


def deliver(ledger: Ledger, files: list[ListedFile]) -> None:
    for listed in files:
        ledger.mark_done(ledger.mark_pending(key(listed), fingerprint="sha"), {"id": "doc"})


def record_over(api: CountingCustomData) -> tuple[DeliveryRecord, Ledger]:
    ledger = Ledger(api, namespace="codat_files.files_x")  # type: ignore[arg-type]
    record = DeliveryRecord(
        api,  # type: ignore[arg-type]
        namespace=ledger.namespace,
        company_id=COMPANY,
        ledger=ledger,
        key_of=key,
        retrier=Retrier.direct(),
    )
    return record, ledger


@pytest.mark.parametrize(("files", "days"), [(100, 20), (3000, 150)])
def test_an_idle_run_costs_the_same_whatever_the_history(files: int, days: int) -> None:
    api = CountingCustomData()
    record, ledger = record_over(api)
    listed = history(files, days)
    deliver(ledger, listed)
    first = record.select(listed, floor=None)  # the upgrade run: learns from the ledger once
    assert first.wanted == [] and first.rows_written == days + 1
    api.calls.clear()
    idle = record.select(listed, floor=None)
    assert idle.wanted == [] and idle.settled_by_summary == files
    assert api.calls == [f"GET /v1/custom-data/adapters_codat_days codat_files.files_x/{COMPANY}/"]

    new = history(3, 1, start=datetime(2026, 6, 1, 9, tzinfo=UTC))
    new = [
        ListedFile(f.file_name, None, f.source_type, f.uploaded_raw, f.uploaded, files + f.position)
        for f in new
    ]
    api.calls.clear()
    assert record.select(listed + new, floor=None).wanted == new
    assert len(api.calls) == 1 + 1  # summaries, then one ledger list for the new files; nothing written
    deliver(ledger, new)
    api.calls.clear()
    settled = record.select(listed + new, floor=None)
    assert settled.wanted == [] and settled.rows_written == 1 and len(api.calls) == 1 + 1 + 1
    api.calls.clear()
    assert record.select(listed + new, floor=None).wanted == []
    assert len(api.calls) == 1


def test_a_summary_never_claims_what_the_ledger_does_not_hold() -> None:
    api = CountingCustomData()
    record, ledger = record_over(api)
    listed = history(10, 2)
    deliver(ledger, listed[:4])
    assert record.select(listed, floor=None).wanted == listed[4:]
    ledger.mark_pending(key(listed[4]), fingerprint="sha")  # sent, not yet recorded done
    assert record.select(listed, floor=None).wanted == listed[4:]


def test_first_run_floor_excludes_older_files_once_and_late_files_still_land() -> None:
    api = CountingCustomData()
    record, _ = record_over(api)
    listed = history(20, 10)
    floor = listed[15].uploaded
    first = record.select(listed, floor=floor)
    assert {f.position for f in first.wanted} == {f.position for f in listed if f.uploaded >= floor}
    assert any(k.endswith(f"/{BASELINE}") for k in api.rows)
    # a file listed late, dated before that first floor, is not excluded by it
    late = ListedFile(
        "late.pdf", None, "Banking", "2025-01-02T08:00:00Z", datetime(2025, 1, 2, 8, tzinfo=UTC), 99
    )
    again = record.select([*listed, late], floor=listed[19].uploaded)
    assert late in again.wanted
    assert not set(again.wanted) & {f for f in listed if f.uploaded < floor}


# -- end to end: DST fold and gap in a European zone --------------------------------------


def add(codat: RunningServer, name: str, uploaded: str) -> None:
    body = {
        "fileName": name,
        "uploaded": uploaded,
        "sourceType": "Banking",
        "content_b64": base64.b64encode(f"{name} {uploaded}".encode()).decode(),
    }
    admin_json(codat, "POST", f"/_sandbox/codat/companies/{COMPANY}/files", json=body)


def test_dst_fold_and_gap_in_berlin_lose_nothing(codat: RunningServer, nuntiq_server: RunningServer) -> None:
    settings = {
        "secrets": {"codat_api_key": API_KEY},
        "config": {
            "connector_name": "codat_dst",
            "codat": {
                "server_url": codat.url,
                "company_ids": [COMPANY],
                "timeout_s": 10,
                "local_timezone": "Europe/Berlin",
            },
        },
        "job_params": {"lookback_days": 3650},
    }

    def run() -> dict[str, Any]:
        result: dict[str, Any] = pull.run(nuntiq_context(nuntiq_server, "40000001", copy.deepcopy(settings)))
        return result["companies"][COMPANY]

    add(codat, "before-gap.pdf", "2026-03-29T01:59:00")  # 00:59Z
    add(codat, "fold-second-half.pdf", "2026-10-25T02:50:00")  # read as the earlier 00:50Z
    first = run()
    assert first["uploaded"] == 2
    assert first["cursor_after"].startswith("2026-10-25T00:50")
    add(codat, "in-gap.pdf", "2026-03-29T02:30:00")  # no such wall time: the jump, 01:00Z
    add(codat, "after-gap.pdf", "2026-03-29T03:00:00")  # 01:00Z as well
    add(codat, "fold-first-half.pdf", "2026-10-25T02:10:00")  # behind the cursor once read early
    add(codat, "after-fold.pdf", "2026-10-25T03:00:00")  # 02:00Z
    second = run()
    assert second["uploaded"] == 4 and second["refused"] == []
    assert run()["uploaded"] == 0
    context = nuntiq_context(nuntiq_server, "40000001", copy.deepcopy(settings))
    names = [
        d["files"][0]["file_name"]
        for d in context.api.get("/v1/source-documents", params={"limit": 100})["items"]
    ]
    assert sorted(names) == sorted(
        [
            "before-gap.pdf",
            "fold-second-half.pdf",
            "in-gap.pdf",
            "after-gap.pdf",
            "fold-first-half.pdf",
            "after-fold.pdf",
        ]
    )
