"""The two Codat connectors end to end: sandbox Codat + sandbox Nuntiq, through sync()."""

from __future__ import annotations

import copy
import io
from typing import Any

import pytest

import connectors.codat_pull_files as pull
import connectors.codat_push_documents as push
from lib.delta import get_delta_state
from lib.jobcontext import all_source_documents, nuntiq_context
from sandbox.server import RunningServer
from tests.codat.conftest import API_KEY, COMPANY, CONNECTION, SMALL_COMPANY, admin_json

TEN_MB = 10 * 1024 * 1024


_customers = iter(range(20000001, 20009999))


@pytest.fixture
def customer() -> str:
    """A fresh customer per test keeps documents, ledgers and cursors apart."""
    return str(next(_customers))


def pull_settings(codat: RunningServer, companies: list[str]) -> dict[str, Any]:
    return {
        "secrets": {"codat_api_key": API_KEY},
        "config": {
            "connector_name": "codat_files_test",
            "codat": {"server_url": codat.url, "company_ids": companies, "timeout_s": 10},
        },
        "job_params": {"lookback_days": 3650},
    }


def context_for(nuntiq: RunningServer, customer: str, settings: dict[str, Any], **params: Any) -> Any:
    return nuntiq_context(nuntiq, customer, copy.deepcopy(settings), params=params or None)


def test_pull_every_file_once_and_rerun_adds_nothing(
    codat: RunningServer, nuntiq_server: RunningServer, customer: str
) -> None:
    settings = pull_settings(codat, [COMPANY, SMALL_COMPANY])
    first = pull.run(context_for(nuntiq_server, customer, settings))
    assert first["companies"][COMPANY]["uploaded"] == 300
    assert first["companies"][SMALL_COMPANY]["uploaded"] == 24
    context = context_for(nuntiq_server, customer, settings)
    documents = all_source_documents(context)
    truth = {
        (t["fileName"], t["sha256"])
        for company in (COMPANY, SMALL_COMPANY)
        for t in admin_json(codat, "GET", f"/_sandbox/codat/companies/{company}/files")
    }
    got = [(d["files"][0]["file_name"], d["files"][0]["sha256"]) for d in documents]
    assert len(got) == 324 and set(got) == truth
    assert len({d["external_reference"] for d in documents}) == 324
    state = get_delta_state(context.api, "codat_files_test", pull.stream_name(COMPANY))
    assert state is not None and state["cursor"].startswith("2026-01-14")

    second = pull.run(context_for(nuntiq_server, customer, settings))
    assert second["companies"][COMPANY]["uploaded"] == 0
    assert len(all_source_documents(context)) == 324


def test_since_override_backfill_does_not_duplicate(
    codat: RunningServer, nuntiq_server: RunningServer, customer: str
) -> None:
    settings = pull_settings(codat, [SMALL_COMPANY])
    pull.run(context_for(nuntiq_server, customer, settings))
    again = pull.run(context_for(nuntiq_server, customer, settings, since_override="2026-01-01T00:00:00Z"))
    summary = again["companies"][SMALL_COMPANY]
    assert summary["since_origin"] == "since_override" and summary["items_read"] == 24
    assert summary["uploaded"] == 0 and summary["sinks"]["source_documents"]["already_present"] == 24
    assert len(all_source_documents(context_for(nuntiq_server, customer, settings))) == 24


@pytest.mark.parametrize(
    ("kind", "member"), [("traversal", "../../etc/cron.d/evil"), ("symlink", "link-to-passwd.pdf")]
)
def test_a_refused_member_blocks_neither_its_day_nor_later_days(
    codat: RunningServer, nuntiq_server: RunningServer, customer: str, kind: str, member: str
) -> None:
    settings = pull_settings(codat, [SMALL_COMPANY])
    pull.run(context_for(nuntiq_server, customer, settings))
    for name, uploaded in (("late.pdf", "2026-02-01T09:00:00Z"), ("later.pdf", "2026-02-02T09:00:00Z")):
        admin_json(
            codat,
            "POST",
            f"/_sandbox/codat/companies/{SMALL_COMPANY}/files",
            json={"fileName": name, "uploaded": uploaded, "sourceType": "Other"},
        )
    admin_json(
        codat,
        "POST",
        f"/_sandbox/codat/companies/{SMALL_COMPANY}/malicious",
        json={"date": "2026-02-01", "kind": kind},
    )
    run_context = context_for(nuntiq_server, customer, settings)
    result = pull.run(run_context)["companies"][SMALL_COMPANY]
    assert result["uploaded"] == 2  # the bad member's day-mate and the next day's file
    (refused,) = result["refused"]
    assert "2026-02-01" in refused and member in refused and "refused" in refused
    errors = [r for r in run_context.logger.records if r.get("level") == "error"]
    assert any(member in str(r) for r in errors)
    names = {d["files"][0]["file_name"] for d in all_source_documents(run_context)}
    assert {"late.pdf", "later.pdf"} <= names and len(names) <= 26


def test_quota_fails_at_once_naming_the_account_limit(
    codat: RunningServer, nuntiq_server: RunningServer, customer: str
) -> None:
    admin_json(codat, "PUT", "/_sandbox/codat/quota", json={"exceeded": True})
    with pytest.raises(Exception, match="Codat account limit") as info:
        pull.run(context_for(nuntiq_server, customer, pull_settings(codat, [COMPANY])))
    assert "quota" in str(info.value)
    assert codat.stats()["requests"] == 1


def test_one_failing_company_does_not_stop_the_other(
    codat: RunningServer, nuntiq_server: RunningServer, customer: str
) -> None:
    settings = pull_settings(codat, ["no-such-company", SMALL_COMPANY])
    with pytest.raises(RuntimeError, match="1 of 2 companies: no-such-company"):
        pull.run(context_for(nuntiq_server, customer, settings))
    assert len(all_source_documents(context_for(nuntiq_server, customer, settings))) == 24


def push_settings(codat: RunningServer) -> dict[str, Any]:
    return {
        "secrets": {"codat_api_key": API_KEY},
        "config": {
            "connector_name": "codat_push_test",
            "codat": {
                "server_url": codat.url,
                "company_id": COMPANY,
                "connection_id": CONNECTION,
                "timeout_s": 10,
            },
        },
        "job_params": {"lookback_days": 3650},
    }


def test_push_45_documents_42_arrive_in_3_requests(
    codat: RunningServer, nuntiq_server: RunningServer, customer: str
) -> None:
    settings = push_settings(codat)
    context = context_for(nuntiq_server, customer, settings)
    for i in range(45):
        if i == 7:
            name, data = "scan-big.pdf", b"\0" * (TEN_MB + 1)
        elif i == 21:
            name, data = "sheet-big.xlsx", b"\1" * (TEN_MB + 5)
        elif i == 33:
            name, data = "tool.exe", b"MZ"
        else:
            name, data = f"doc-{i:02d}.pdf", f"%PDF-1.4 doc {i}".encode()
        context.api.upload_source_documents(files=[(name, io.BytesIO(data), "application/octet-stream")])
    # a document the Codat pull created is never pushed back
    context.api.upload_source_documents(
        files=[("from-codat.pdf", b"%PDF", "application/pdf")], source="codat"
    )

    run_context = context_for(nuntiq_server, customer, settings)
    result = push.run(run_context)
    uploads = admin_json(codat, "GET", "/_sandbox/codat/uploads")
    assert len(uploads["files"]) == 42 and uploads["requests"] == 3
    assert result["uploaded"] == 42 and result["upload_requests"] == 3
    assert {r["name"] for r in result["rejected"]} == {"scan-big.pdf", "sheet-big.xlsx", "tool.exe"}
    assert result["from_codat_skipped"] == 1
    logged = " ".join(str(r) for r in run_context.logger.records)
    assert all(name in logged for name in ("scan-big.pdf", "sheet-big.xlsx", "tool.exe"))

    again = push.run(context_for(nuntiq_server, customer, settings))
    assert again["uploaded"] == 0 and again["upload_requests"] == 0
    assert admin_json(codat, "GET", "/_sandbox/codat/uploads")["requests"] == 3


def test_one_traversal_member_is_quarantined_and_blocks_nothing(
    codat: RunningServer, tmp_path: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    """A day whose archive holds a traversal member: every listed file of that day and of
    later days lands, the refused member is quarantined and listed by the CLI (it belongs
    to no listed file, so nothing waits on it), and the operator discards it."""
    import json

    from lib.cli.main import main

    day = "2026-01-07"
    admin_json(codat, "POST", f"/_sandbox/codat/companies/{SMALL_COMPANY}/malicious",
               json={"date": day, "kind": "traversal"})
    settings = pull_settings(codat, [SMALL_COMPANY])
    settings["customer_number"] = "20010001"
    settings_file = tmp_path / "settings.json"
    settings_file.write_text(json.dumps(settings), encoding="utf-8")
    db = tmp_path / "nuntiq.sqlite3"
    stream = f"files_{SMALL_COMPANY}"

    def cli(*args: str) -> tuple[int, str]:
        code = main([*args, "--db", str(db)])
        return code, capsys.readouterr().out

    try:
        code, out = cli("run", "codat_pull_files", "--settings", str(settings_file))
        assert code == 0, out
        code, listing = cli("quarantine", "list", "codat_files_test", "--settings", str(settings_file))
    finally:
        admin_json(codat, "DELETE", "/_sandbox/codat/malicious")
    assert code == 0
    held = [line.split()[1] for line in listing.splitlines() if line.startswith(stream)]
    assert len(held) == 1 and held[0].endswith(f":member:{day}:../../etc/cron.d/evil"), listing
    assert "climbs out" in listing and '"partition": "2026-01-07"' in listing
    code, out = cli("run", "codat_pull_files", "--settings", str(settings_file))
    assert code == 0, out
    code, out = cli(
        "quarantine", "discard", "codat_files_test", stream, "--all", "--settings", str(settings_file)
    )
    assert code == 0 and "discarded 1" in out
    code, listing = cli("quarantine", "list", "codat_files_test", "--settings", str(settings_file))
    assert stream not in listing


def test_a_file_whose_member_is_refused_is_quarantined_then_released(
    codat: RunningServer, nuntiq_server: RunningServer, customer: str
) -> None:
    """A listed file the archive cannot safely give (its member missing) is quarantined
    with its own delivery key; once the archive is whole again it lands and is released."""
    from adapters.quarantine import QuarantineStore

    day = "2026-01-07"
    settings = pull_settings(codat, [SMALL_COMPANY])
    admin_json(codat, "POST", f"/_sandbox/codat/companies/{SMALL_COMPANY}/malicious",
               json={"date": day, "kind": "missing"})
    try:
        first = pull.run(context_for(nuntiq_server, customer, settings))
    finally:
        admin_json(codat, "DELETE", "/_sandbox/codat/malicious")
    context = context_for(nuntiq_server, customer, settings)
    store = QuarantineStore(context.api, namespace="codat_files_test")
    held = list(store.entries(f"files_{SMALL_COMPANY}"))
    assert held and all(day in e.reason for e in held)
    assert first["companies"][SMALL_COMPANY]["uploaded"] == 24 - len(held)
    second = pull.run(context_for(nuntiq_server, customer, settings))
    assert second["companies"][SMALL_COMPANY]["uploaded"] == len(held)
    assert list(store.entries(f"files_{SMALL_COMPANY}")) == []
    names = sorted(d["files"][0]["file_name"] for d in all_source_documents(context))
    assert len(names) == 24
