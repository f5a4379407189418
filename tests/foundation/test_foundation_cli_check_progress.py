"""``check``, ``discover`` and the progress display, against sandbox services."""

from __future__ import annotations

import io
import json
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from adapters.progress import EventKind, ProgressEvent
from lib.cli.main import main
from lib.cli.progress_display import RunMeter, live_display, plain_lines
from lib.jobcontext import issue_job_token
from lib.runner import REPO_ROOT, run_connector
from sandbox.connect.app import DEFAULT_API_KEY
from sandbox.server import RunningServer, serve_in_thread

CUSTOMER = "10000001"
COMPANY = "8a210b68-6988-11ed-a1eb-0242ac120002"


@pytest.fixture(scope="module")
def connect_sandbox() -> Iterator[RunningServer]:
    with serve_in_thread("connect") as server:
        yield server


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _settings(tmp_path: Path, config: dict[str, Any], secrets: dict[str, str]) -> str:
    path = tmp_path / "settings.json"
    path.write_text(json.dumps({"customer_number": CUSTOMER, "secrets": secrets, "config": config}))
    return str(path)


def _check(
    capsys: pytest.CaptureFixture[str], settings: str, nuntiq: RunningServer
) -> tuple[int, str, float]:
    api = ["--api-url", nuntiq.url, "--token", issue_job_token(nuntiq, CUSTOMER)]
    started = time.monotonic()
    code = main(["check", "--settings", settings, *api])
    elapsed = time.monotonic() - started
    out, _ = capsys.readouterr()
    return code, out, elapsed


def test_check_reports_each_service_ok(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    connect_sandbox: RunningServer,
    fresh_nuntiq: RunningServer,
) -> None:
    connect_sandbox.set_faults()
    before = connect_sandbox.stats()
    settings = _settings(
        tmp_path,
        {"connector_name": "c", "connect_endpoint": connect_sandbox.url},
        {"connect_api_key": DEFAULT_API_KEY},
    )
    code, out, _ = _check(capsys, settings, fresh_nuntiq)
    assert code == 0, out
    assert "connect" in out and "nuntiq" in out and "FAILED" not in out
    assert "2 of 2 checks OK" in out and "nothing was written" in out
    assert "GET /listings?limit=0" in out  # the cost is shown
    assert connect_sandbox.stats() != before or before == {}  # it did call Connect


@pytest.mark.parametrize("mistake", ["key", "url"])
def test_check_names_what_to_fix_quickly(
    mistake: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    connect_sandbox: RunningServer,
    fresh_nuntiq: RunningServer,
) -> None:
    connect_sandbox.set_faults()
    endpoint = connect_sandbox.url if mistake == "key" else f"http://127.0.0.1:{_closed_port()}"
    key = "ApiKey SU-000-000-000:wrong-key-value" if mistake == "key" else DEFAULT_API_KEY
    config = {"connector_name": "c", "connect_endpoint": endpoint}
    settings = _settings(tmp_path, config, {"connect_api_key": key})
    code, out, elapsed = _check(capsys, settings, fresh_nuntiq)
    assert code == 1 and elapsed < 5, (elapsed, out)
    assert "FAILED" in out and "1 of 2 checks OK" in out
    flat = " ".join(out.split())
    if mistake == "key":
        assert "auth" in flat and "connect_api_key_secret" in flat
        assert "wrong-key-value" not in out
    else:
        assert "not reachable at" in flat and "connect_endpoint" in flat


def test_check_codat_wrong_key_names_the_secret(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], fresh_nuntiq: RunningServer
) -> None:
    with serve_in_thread("codat") as codat:
        settings = _settings(
            tmp_path,
            {"connector_name": "c", "codat": {"server_url": codat.url, "company_id": COMPANY}},
            {"codat_api_key": "not-the-sandbox-key"},
        )
        code, out, elapsed = _check(capsys, settings, fresh_nuntiq)
    flat = " ".join(out.split())
    assert code == 1 and elapsed < 5
    assert "auth" in flat and "codat_api_key" in flat and "returns every file" in flat
    assert "not-the-sandbox-key" not in out


def test_check_refuses_a_settings_typo_without_calling(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], fresh_nuntiq: RunningServer
) -> None:
    settings = _settings(
        tmp_path, {"connector_name": "c", "connect_endpont": "http://127.0.0.1:9"}, {"connect_api_key": "x"}
    )
    code, out, _ = _check(capsys, settings, fresh_nuntiq)
    flat = " ".join(out.split())
    assert code == 1 and "did you mean 'connect_endpoint'" in flat and "no request made" in flat


def test_discover_lists_streams_and_settings_schema(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["discover"]) == 0
    out, _ = capsys.readouterr()
    assert "listings" in out and "keyset on (updated, id)" in out and "codat_files_{company_id}" in out
    assert "connect_endpoint" in out and "retry.max_total" in out
    assert "codat.archive_limits.max_members" in out
    assert main(["streams", "--json"]) == 0
    data = json.loads(capsys.readouterr()[0])
    assert data["connect"]["settings_schema"]["properties"]["connect_page_size"]["type"] == "integer"
    streams = {s["name"]: s for s in data["connect"]["streams"]}
    assert streams["subscription_assets"]["ordering"] == "unordered"
    assert streams["tier_accounts"]["ordering"] == "full_scan"


def test_live_display_of_a_sandbox_run(connect_sandbox: RunningServer, fresh_nuntiq: RunningServer) -> None:
    connect_sandbox.set_faults(script=[503])  # one retry shows in the display
    settings = {
        "customer_number": CUSTOMER,
        "secrets": {"connect_api_key": DEFAULT_API_KEY},
        "config": {
            "connector_name": "vendors",
            "connect_endpoint": connect_sandbox.url,
            "connect_page_size": 20,
            "retry": {"initial_wait": 0.01, "max_wait": 0.05},
        },
        "job_params": {"lookback_days": 3650},
    }
    console = Console(record=True, force_terminal=True, width=150, file=io.StringIO())
    meter = RunMeter()
    with live_display(meter, console, refresh_per_second=20):
        report = run_connector(
            "connect_pull_suppliers",
            settings,
            api_url=fresh_nuntiq.url,
            job_token=issue_job_token(fresh_nuntiq, CUSTOMER),
            log_stream=io.StringIO(),
        )
    connect_sandbox.set_faults()
    assert report.ok, report.error
    listings = meter.streams["listings_vendors"]
    assert listings.read == report.result["items_read"] > 20  # several pages
    assert listings.expected == listings.read  # Content-Range total matched what was read
    assert sum(meter.retries.values()) == 1
    text = console.export_text()
    final = text[text.rindex("progress") :]  # the last frame
    assert "listings_vendors (done)" in final
    assert f"{listings.read:,}" in final and f"suppliers {sum(listings.written.values()):,}" in final
    assert "server total" in final and "ETA" in final
    assert any(k.startswith("nuntiq 127.0.0.1") for k in meter.requests)  # the supplier saves
    ((source, requests),) = [(k, v) for k, v in meter.requests.items() if k.startswith("connect ")]
    assert requests > listings.read // 20  # every page, plus partner lookups
    assert f"{source}: {requests} requests" in final and "retries: connect.listings 1" in final


def test_meter_eta_and_lying_totals() -> None:
    now = [100.0]
    meter = RunMeter(clock=lambda: now[0])
    meter(ProgressEvent(EventKind.STREAM_STARTED, stream="s", at=100.0))
    meter(ProgressEvent(EventKind.RESPONSE, source="api", remaining=1000, bytes=2048))
    meter(ProgressEvent(EventKind.READ, stream="s", count=100))
    now[0] = 110.0  # 100 items in 10 s: 10/s, 900 left
    stream = meter.streams["s"]
    assert stream.expected == 1000 and stream.eta(now[0]) == pytest.approx(90.0)
    meter(ProgressEvent(EventKind.RESPONSE, source="api", remaining=5))  # another endpoint's small total
    assert stream.expected == 1000
    meter(ProgressEvent(EventKind.READ, stream="s", count=1100))  # a total that lied low
    assert stream.eta(now[0]) == 0  # never negative
    meter(ProgressEvent(EventKind.RETRY, source="api"))
    assert meter.requests["api"] == 2 and meter.bytes["api"] == 2048 and meter.retries["api"] == 1


def test_plain_lines_when_not_a_terminal() -> None:
    out = io.StringIO()
    meter = RunMeter()
    from adapters import progress

    with plain_lines(meter, out, every_seconds=0):
        progress.note(EventKind.STREAM_STARTED, stream="s")
        progress.note(EventKind.RESPONSE, source="api", remaining=10)
        for _ in range(4):
            progress.note(EventKind.READ, stream="s", count=1)
        progress.note(EventKind.FLUSHED, stream="s", sink="rows", count=4)
        progress.note(EventKind.STREAM_FINISHED, stream="s", count=4)
    lines = out.getvalue().splitlines()
    assert lines and all(line.startswith("progress s: read 4") for line in lines)
    assert "of ~10" in lines[0] and "written rows=4" in lines[0] and "[1 requests, 0 retries]" in lines[0]
    assert not progress.active()  # unsubscribed at the end


def test_check_on_the_shipped_codat_settings(
    capsys: pytest.CaptureFixture[str], fresh_nuntiq: RunningServer
) -> None:
    """``sandbox:codat`` starts the sandbox; both companies and Nuntiq answer."""
    settings = str(REPO_ROOT / "fixtures/settings/codat_pull_files.json")
    code, out, _ = _check(capsys, settings, fresh_nuntiq)
    assert code == 0, out
    assert "3 of 3 checks OK" in out and out.count("files listed") == 2
