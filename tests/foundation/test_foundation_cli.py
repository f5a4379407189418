"""The command-line tool and the demo, end to end (the CLI in a child process, as a user runs it)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from lib.cli.demo import DEMO_CONNECTORS, format_table, run_demo
from lib.cli.main import main
from lib.jobcontext import issue_job_token
from lib.runner import REPO_ROOT, parse_params
from sandbox.server import RunningServer
from tests.foundation.conftest import SECRET

SETTINGS = REPO_ROOT / "fixtures/settings/sample_pull_suppliers.json"


def _cli(*args: str, db: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "lib.cli", *args, "--db", str(db)],
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
        timeout=120,
    )


def _cursor_line(stdout: str) -> tuple[str, str]:
    match = re.search(r"delta state\s+\S+: cursor (\S+) -> (\S+)", stdout)
    assert match, stdout
    return match.group(1), match.group(2)


def _rows(stdout: str) -> int:
    match = re.search(r"rows written\s+(\d+)", stdout)
    assert match, stdout
    return int(match.group(1))


def _when(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def test_run_twice_second_run_starts_from_first_cursor(tmp_path: Path) -> None:
    """As a user runs it: child process, sandbox started on a persistent database each time."""
    db = tmp_path / "nuntiq.sqlite3"
    first = _cli("run", "sample_pull_suppliers", "--settings", str(SETTINGS), db=db)
    assert first.returncode == 0, first.stderr
    before1, after1 = _cursor_line(first.stdout)
    assert before1 == "(none)"
    assert _when(after1) == datetime(2026, 10, 24, 11, 41, tzinfo=UTC)  # newest updated_at in the fixture
    assert _rows(first.stdout) == 24
    assert "INFO" in first.stderr  # progress lines go to stderr

    second = _cli("run", "sample_pull_suppliers", "--settings", str(SETTINGS), db=db)
    assert second.returncode == 0, second.stderr
    before2, _ = _cursor_line(second.stdout)
    assert before2 == after1
    assert _rows(second.stdout) < 24  # only records at/after the stored cursor again


def _main(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_delta_show_reset_and_params(fresh_nuntiq: RunningServer, capsys: pytest.CaptureFixture[str]) -> None:
    nuntiq = fresh_nuntiq
    api = ["--api-url", nuntiq.url, "--token", issue_job_token(nuntiq, "10000001")]
    code, out, _ = _main(capsys, "run", "sample_pull_suppliers", "--settings", str(SETTINGS), *api)
    assert code == 0
    _, cursor = _cursor_line(out)
    code, out, _ = _main(
        capsys, "delta", "show", "sample_suppliers_eu", "suppliers", "--settings", str(SETTINGS), *api
    )
    assert code == 0
    assert f"cursor: {cursor}" in out and "completed" in out
    code, out, _ = _main(capsys, "delta", "list", "--customer", "10000001", *api)
    assert f"sample_suppliers_eu/suppliers: {cursor}" in out
    reset = ["delta", "reset", "sample_suppliers_eu", "suppliers", "--settings", str(SETTINGS), *api]
    code, out, err = _main(capsys, *reset)  # no terminal to confirm on: refused, nothing deleted
    assert code == 1 and "pass --yes" in err and "not reset" in out
    show = ["delta", "show", "sample_suppliers_eu", "suppliers", "--customer", "10000001", *api]
    code, out, _ = _main(capsys, *show)
    assert f"cursor: {cursor}" in out
    code, out, _ = _main(capsys, *reset, "--yes")
    assert "cursor deleted" in out
    code, out, _ = _main(
        capsys, "run", "sample_pull_suppliers", "--settings", str(SETTINGS), "--param=lookback_days=1", *api
    )
    assert code == 0
    assert _cursor_line(out)[0] == "(none)"
    assert _rows(out) == 0  # nothing in the fixture changed in the last day


def test_failing_connector_exits_1_and_never_prints_secrets(
    fresh_nuntiq: RunningServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    nuntiq = fresh_nuntiq
    connector = tmp_path / "leaky.py"
    connector.write_text(
        "from lib.delta import delta_run\n"
        "def run(context):\n"
        "    secret = context.get_secret('acme_token')\n"
        "    context.logger.info('using ' + secret, detail={'auth': 'Bearer ' + secret})\n"
        "    with delta_run(context, 'leaky', 'things') as run:\n"
        "        run.set_new_cursor('2026-01-01T00:00:00Z')\n"
        "        raise RuntimeError('upstream refused ' + secret)\n"
    )
    settings = tmp_path / "settings.json"
    settings.write_text(json.dumps({"customer_number": "10000009", "secrets": {"acme_token": SECRET}}))
    api = ["--api-url", nuntiq.url, "--token", issue_job_token(nuntiq, "10000009")]
    code, out, err = _main(capsys, "run", str(connector), "--settings", str(settings), "--traceback", *api)
    assert code == 1
    assert SECRET not in out + err
    assert "RuntimeError: upstream refused ***" in out
    assert "Traceback" in err
    assert re.search(r"status\s+FAILED", out)
    assert _cursor_line(out) == ("(none)", "(none)")
    code, out, err = _main(capsys, "delta", "show", "leaky", "things", "--customer", "10000009", *api)
    assert "failed" in out and "upstream refused ***" in out and SECRET not in out


def test_bad_usage_is_reported_clearly(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = _main(capsys, "run", "no_such_connector", "--settings", str(SETTINGS))
    assert code == 2 and "no connector named 'no_such_connector'" in err
    shipped = "acme_pull_suppliers, codat_pull_files, codat_push_documents, connect_pull_billing_documents"
    assert f"shipped connectors: {shipped}" in err
    bad = tmp_path / "bad.json"
    bad.write_text("{}")
    code, _, err = _main(capsys, "run", "sample_pull_suppliers", "--settings", str(bad))
    assert code == 2 and "'customer_number' is required" in err
    code, _, err = _main(capsys, "run", "sample_pull_suppliers", f"--settings={SETTINGS}", "--param=novalue")
    assert code == 2 and "key=value" in err
    assert parse_params(["since_override=2024-01-01T00:00:00Z", "x=a=b"]) == {
        "since_override": "2024-01-01T00:00:00Z",
        "x": "a=b",
    }


def test_demo_idle_rerun_writes_nothing_and_changes_are_picked_up() -> None:
    entries = [d for d in DEMO_CONNECTORS if d.name == "sample_pull_suppliers"]
    (sample,) = run_demo(entries)
    assert all(run.ok for run in sample.runs), [run.error for run in sample.runs]
    assert sample.cursor_carried
    first, idle, changed = sample.runs
    assert first.total_rows == 24
    # The inclusive lower bound re-delivers the boundary supplier, but nothing changes.
    assert idle.total_rows == 0
    assert sample.idle_rerun_wrote_nothing
    assert idle.streams[0].cursor_after == first.streams[0].cursor_after
    assert changed.total_rows == 4  # 3 changed + 1 new
    assert changed.streams[0].cursor_after != first.streams[0].cursor_after
    assert [run.items_read for run in sample.runs] == [24, 1, 5]  # the idle rerun re-reads the boundary
    table = format_table([sample])
    assert first.streams[0].cursor_after in table and "cursor before" in table
    header, rule, *rows = table.splitlines()
    assert "read" in header and "changed (server)" in header and set(rule.strip()) == {"─"}
    assert rows[1].split()[:5] == ["sample_pull_suppliers", "2", "ok", "1", "0"]


def test_demo_help_says_three_runs(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["demo", "--help"])
    out = " ".join(capsys.readouterr()[0].split())
    assert "three times" in out and "run 2 sees no source change" in out
