"""The sample plug-in: the README's file-based supplier pull (its external source is a JSON file)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from lib.integrations.base import DemoConnector, DemoEnv, Integration
from lib.runner import REPO_ROOT


def _seed_sample_suppliers(env: DemoEnv) -> Mapping[str, Any]:
    target = env.workdir / "suppliers.json"
    target.write_text((REPO_ROOT / "fixtures/external/suppliers.json").read_text(encoding="utf-8"))
    return {"suppliers_file": str(target)}


def _touch_sample_suppliers(env: DemoEnv) -> None:
    """Three suppliers change and one is added after the first run."""
    path = Path(env.settings["config"]["suppliers_file"])
    data = json.loads(path.read_text(encoding="utf-8"))
    now = datetime.now(UTC).replace(microsecond=0)
    for offset, row in enumerate(data["suppliers"][:3]):
        row["updated_at"] = (now - timedelta(minutes=3 - offset)).isoformat().replace("+00:00", "Z")
        row["name"] += " (renamed)"
    data["suppliers"].append(
        {
            "number": "SUP-9001",
            "name": "Newcomer Ltd",
            "active": True,
            "updated_at": now.isoformat().replace("+00:00", "Z"),
            "address": {"street": "1 New Road", "city": "Dublin", "postal_code": "D01", "country": "IE"},
        }
    )
    path.write_text(json.dumps(data, indent=2), encoding="utf-8")


INTEGRATION = Integration(
    name="sample",
    connectors=("sample_pull_suppliers",),
    demo=(
        DemoConnector(
            name="sample_pull_suppliers",
            settings="fixtures/settings/sample_pull_suppliers.json",
            prepare=_seed_sample_suppliers,
            between_runs=_touch_sample_suppliers,
        ),
    ),
)
