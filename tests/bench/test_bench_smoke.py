"""The benchmarks' code paths on tiny sizes, so the bench code cannot rot unnoticed.

No timing assertions: only that every variant did the same work (the same listings
read, the same Nuntiq rows written) and that the reports can be formatted.
"""

from __future__ import annotations

from typing import Any

import pytest

from bench import codat_files, connect_suppliers, memory_scaling, run_all
from bench.harness import table

pytestmark = pytest.mark.timeout(240)


@pytest.fixture(scope="module")
def connect_report() -> dict[str, Any]:
    return connect_suppliers.run_benchmark(listings=300, vendors=12, latencies=(0.0,), keep_suppliers=True)


def test_connect_writers_store_identical_suppliers(connect_report: dict[str, Any]) -> None:
    (run,) = connect_report["runs"]
    stored = {row["variant"]: row["stored"] for row in run["rows"] if row["customer"]}
    assert set(stored) == {"adapter", "adapter_p100", "baseline"}
    assert len(stored["adapter"]) == run["rows"][0]["vendors"]
    assert any(row.get("locations") for row in stored["adapter"])  # addresses were mapped too
    assert stored["adapter"] == stored["baseline"] == stored["adapter_p100"]


@pytest.fixture(scope="module")
def scaling_report() -> dict[str, Any]:
    return memory_scaling.run_benchmark(sizes=(100, 300), vendors=8)


@pytest.fixture(scope="module")
def codat_report() -> dict[str, Any]:
    return codat_files.run_benchmark(files=12, days=3, min_kb=2, max_kb=4, latencies=(0.0,))


def test_connect_variants_read_the_same_listings_and_write_the_same_suppliers(
    connect_report: dict[str, Any],
) -> None:
    (run,) = connect_report["runs"]
    by = {row["variant"]: row for row in run["rows"]}
    assert set(by) == {"adapter", "adapter_p100", "baseline", "floor", "adapter_source"}
    assert {row["listings"] for row in by.values()} == {300}
    writers = [by[name] for name in ("adapter", "adapter_p100", "baseline")]
    vendors = writers[0]["vendors"]
    assert 0 < vendors <= 12
    for row in writers:
        assert row["vendors"] == vendors
        assert row["suppliers"] == vendors
        assert row["suppliers_written"] == vendors
    # page size 1000 needs fewer Connect requests than 100 (1 page vs 3, same partner lookups)
    assert by["adapter"]["connect_requests"] < by["adapter_p100"]["connect_requests"]
    for row in by.values():
        assert row["peak_rss_mb"] >= row["rss_before_mb"] > 0
    assert "speedup adapter vs baseline" in connect_suppliers.format_report(connect_report)


def test_memory_scaling_runs_the_adapter_at_both_sizes(scaling_report: dict[str, Any]) -> None:
    rows = scaling_report["rows"]
    assert [row["listings_seeded"] for row in rows] == [100, 300]
    assert [row["listings"] for row in rows] == [100, 300]
    assert all(0 < row["suppliers"] <= 8 for row in rows)
    assert scaling_report["peak_ratio"] is not None
    assert "peak RSS ratio" in memory_scaling.format_report(scaling_report)


def test_codat_variants_upload_every_file_once(codat_report: dict[str, Any]) -> None:
    (run,) = codat_report["runs"]
    by = {row["variant"]: row for row in run["rows"]}
    assert set(by) == {"adapter", "naive"}
    for row in by.values():
        assert row["documents"] == 12
        assert row["source_documents"] == 12
        assert row["documents_created"] == 12
    assert by["adapter"]["archives"] == 3  # one archive per upload date
    assert by["naive"]["archives"] == 1
    # the per-date archives add up to the single undated one (give or take zip headers)
    assert by["adapter"]["downloaded_mb"] == pytest.approx(by["naive"]["downloaded_mb"], abs=0.2)
    assert "bounded by the largest archive" in codat_files.format_report(codat_report)


def test_summary_table_lists_every_target(
    connect_report: dict[str, Any], scaling_report: dict[str, Any], codat_report: dict[str, Any]
) -> None:
    results = {
        "connect_suppliers": connect_report,
        "memory_scaling": scaling_report,
        "codat_files": codat_report,
    }
    rows = run_all.summary_rows(results)
    assert len(rows) == 4  # two Connect targets, memory scaling, Codat at one latency
    text = table(rows, [("target", "target"), ("verdict", "verdict")])
    assert text.count("\n") == len(rows) + 1
