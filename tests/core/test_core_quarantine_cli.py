"""``python -m lib.cli quarantine list|retry|discard`` on the sample connector (persistent sandbox)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from lib.cli.main import main


def write_settings(tmp_path: Path, rows: list[dict[str, Any]]) -> Path:
    suppliers = tmp_path / "suppliers.json"
    suppliers.write_text(json.dumps({"suppliers": rows}), encoding="utf-8")
    settings = tmp_path / "settings.json"
    settings.write_text(
        json.dumps(
            {
                "customer_number": "10000077",
                "secrets": {"source_token": "tok-cli-quarantine"},
                "config": {"connector_name": "sample_q", "suppliers_file": str(suppliers)},
                "job_params": {"lookback_days": 36500},
            }
        ),
        encoding="utf-8",
    )
    return settings


def row(n: int, **extra: Any) -> dict[str, Any]:
    day = 9 if n == 1 else n  # SUP-1 is the newest, so the others lie behind the cursor
    return {"number": f"SUP-{n}", "name": f"Supplier {n}", "updated_at": f"2026-01-0{day}T10:00:00Z", **extra}


def cli(capsys: pytest.CaptureFixture[str], db: Path, *args: str) -> tuple[int, str]:
    code = main([*args, "--db", str(db)])
    return code, capsys.readouterr().out


def test_list_retry_and_discard(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = tmp_path / "nuntiq.sqlite3"
    settings = write_settings(tmp_path, [row(1), row(2, updated_at="02/01/2026 ??"), row(3, name=None)])
    code, out = cli(capsys, db, "run", "sample_pull_suppliers", "--settings", str(settings))
    assert code == 0 and '"quarantined": 2' in out
    code, out = cli(capsys, db, "quarantine", "list", "sample_q", "--settings", str(settings))
    assert code == 0 and "sample_q: 2 quarantined item(s)" in out
    assert "suppliers  SUP-2  [source]" in out and "02/01/2026 ??" in out
    assert "suppliers  SUP-3  [suppliers]" in out and "supplier_name" in out

    write_settings(tmp_path, [row(1), row(2), row(3)])  # the export is fixed
    code, out = cli(
        capsys, db, "quarantine", "retry", "sample_pull_suppliers", "SUP-2", "--settings", str(settings)
    )
    assert code == 0 and '"released": 1' in out
    code, out = cli(capsys, db, "quarantine", "list", "sample_q", "suppliers", "--settings", str(settings))
    assert "SUP-2" not in out and "SUP-3" in out and "1 quarantined item(s)" in out

    code, out = cli(
        capsys,
        db,
        "quarantine",
        "discard",
        "sample_q",
        "suppliers",
        "SUP-3",
        "SUP-9",
        "--settings",
        str(settings),
    )
    assert code == 1 and "discarded 1 item(s)" in out and "not quarantined: SUP-9" in out
    code, out = cli(capsys, db, "quarantine", "list", "sample_q", "--settings", str(settings))
    assert "sample_q: 0 quarantined item(s)" in out
    code, _ = cli(capsys, db, "quarantine", "discard", "sample_q", "suppliers", "--settings", str(settings))
    assert code == 2
