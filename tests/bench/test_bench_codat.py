"""``python -m bench codat`` on tiny sizes: figures from the sandbox that add up (no timing asserted)."""

from __future__ import annotations

import json
from pathlib import Path

from bench import codat


def test_codat_bench_reports_calls_per_file_from_the_sandbox_and_writes_its_json(tmp_path: Path) -> None:
    out = tmp_path / "figures" / "codat.json"
    report = codat.main(["--files", "12", "--days", "3", "--min-kb", "2", "--max-kb", "4",
                         "--latency-ms", "0", "--repeats", "1", "--json", str(out)])  # fmt: skip
    assert json.loads(out.read_text())["nuntiq_calls_per_file"] == report["nuntiq_calls_per_file"]
    adapter, naive = report["variants"]["adapter"], report["variants"]["naive"]
    assert adapter["documents"] == naive["documents"] == 12  # every file once, in both variants
    # the naive loop makes exactly one Nuntiq call per file, as counted by the sandbox itself
    assert naive["nuntiq_requests"] == 12 and naive["nuntiq_calls_per_file"] == 1.0
    routes = adapter["routes"]
    assert routes["/v1/source-documents"] == 12
    assert sum(routes.values()) == adapter["nuntiq_requests"]  # every call of the run is counted
    assert routes["/v1/custom-data/adapters_run_lease"] >= 3  # claim, list, release at least
    assert report["vs_naive"] is not None and report["vs_naive"] > 0
