"""``python -m bench connect`` end to end on a tiny data set (no timing assertions).

It checks what the figures rest on: every variant reads every listing, the writing
variants store the same suppliers, requests are counted from the sandboxes, and the
ratios in the JSON are the ones the rows give.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench import connect


@pytest.mark.timeout(120)
def test_bench_connect_reports_every_variant_and_its_ratios(tmp_path: Path) -> None:
    out = tmp_path / "connect.json"
    report = connect.main(["--records", "2500", "--vendors", "20", "--latency-ms", "0", "--repeats", "1",
                           "--json", str(out)])  # fmt: skip
    assert json.loads(out.read_text()) == json.loads(json.dumps(report))
    rows = {r["variant"]: r for r in report["rows"]}
    assert set(rows) == {"adapter", "adapter_whole", "recipe", "floor"}
    assert all(r["records"] == 2500 for r in rows.values())
    suppliers = {name: rows[name]["suppliers"] for name in ("adapter", "adapter_whole", "recipe")}
    assert suppliers == dict.fromkeys(suppliers, 20)
    assert report["whole_listings_client_us_per_record"] == rows["adapter_whole"]["client_us_per_record"] > 0
    assert rows["floor"]["connect_requests"] == 3  # 2 full pages and the short one
    assert rows["adapter"]["nuntiq_requests"] > 0 and rows["floor"]["nuntiq_requests"] == 0
    assert report["vs_recipe"] == round(rows["recipe"]["seconds"] / rows["adapter"]["seconds"], 2)
    assert report["vs_floor"] == round(rows["adapter"]["seconds"] / rows["floor"]["seconds"], 2)
    assert report["client_us_per_record"] == rows["adapter"]["client_us_per_record"] > 0
    assert report["minimum_requests"] == connect.minimum_requests(2500, 20) == 3 + 1 + 1 + 2
