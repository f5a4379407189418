"""The README's twenty-line connector runs as shown, twice, against the sandbox."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest

from lib.jobcontext import issue_job_token, write_counters
from lib.runner import REPO_ROOT, run_connector
from sandbox.connect.app import DEFAULT_API_KEY
from sandbox.server import RunningServer, serve_in_thread

EXAMPLE = REPO_ROOT / "examples" / "listing_vendors.py"


@pytest.fixture(scope="module")
def connect_sandbox() -> Iterator[RunningServer]:
    with serve_in_thread("connect") as server:
        yield server


def test_readme_shows_the_example_verbatim() -> None:
    code = EXAMPLE.read_text(encoding="utf-8").split('"""', 2)[2].strip()
    readme = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    assert code in readme
    assert len(code.splitlines()) <= 21 and len([line for line in code.splitlines() if line]) <= 20


def test_readme_connector_runs_and_reruns(
    connect_sandbox: RunningServer, fresh_nuntiq: RunningServer
) -> None:
    settings = {
        "customer_number": "10000001",
        "secrets": {"connect_api_key": DEFAULT_API_KEY},
        "config": {"connector_name": "readme_vendors", "connect_endpoint": connect_sandbox.url},
        "job_params": {"lookback_days": 3650},
    }
    runs = []
    for _ in range(2):
        token = issue_job_token(fresh_nuntiq, "10000001")
        runs.append(run_connector(str(EXAMPLE), settings, api_url=fresh_nuntiq.url, job_token=token))
    first, second = runs
    assert first.ok and second.ok, (first.error, second.error)
    assert first.result["items_read"] == 60 and second.result["items_read"] == 1  # the boundary item
    assert first.streams[0].cursor_after == second.streams[0].cursor_before
    assert write_counters(fresh_nuntiq)["suppliers_changed"] == 8  # eight vendors on 60 listings
    assert re.fullmatch(r"\d{4}-.*Z", first.streams[0].cursor_after or "")
