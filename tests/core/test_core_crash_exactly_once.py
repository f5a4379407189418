"""DocumentSink is exactly-once even when the process is SIGKILLed at arbitrary points.

A child process syncs 30 documents into a sandbox Nuntiq service running in its own
process. The parent kills the child again and again -- right after the k-th document
was created, right after the r-th ledger write, or after a random delay -- and restarts
it each time; finally it lets a run finish and checks that every document exists in
Nuntiq exactly once and the ledger records each one as done.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from lib.jobcontext import issue_job_token, nuntiq_context, write_counters
from sandbox.server import RunningServer, serve_in_subprocess

CHILD = Path(__file__).with_name("core_crash_child.py")
CUSTOMER = "30000001"
COUNT = 30
KILLS = 10


@pytest.fixture
def server() -> Iterator[RunningServer]:
    running = serve_in_subprocess("nuntiq")
    try:
        yield running
    finally:
        running.stop()


def start_child(server: RunningServer, token: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, str(CHILD), server.url, CUSTOMER, token, str(COUNT)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def wait_for(server: RunningServer, child: subprocess.Popen[str], counter: str, target: int) -> None:
    deadline = time.monotonic() + 30
    while child.poll() is None and time.monotonic() < deadline:
        if write_counters(server, CUSTOMER).get(counter, 0) >= target:
            return
        time.sleep(0.005)


@pytest.mark.slow
@pytest.mark.timeout(120)
def test_documents_exactly_once_across_kills(server: RunningServer) -> None:
    token = issue_job_token(server, CUSTOMER)
    rng = random.Random(20261123)
    kills = finished = 0
    for round_ in range(KILLS):
        before = write_counters(server, CUSTOMER)
        child = start_child(server, token)
        mode = ("documents", "ledger", "delay")[round_ % 3]
        if mode == "documents":
            target = before.get("source_documents_created", 0) + rng.randint(1, 4)
            wait_for(server, child, "source_documents_created", target)
        elif mode == "ledger":
            target = before.get("custom_data_rows_written", 0) + rng.randint(1, 7)
            wait_for(server, child, "custom_data_rows_written", target)
        else:
            deadline = time.monotonic() + rng.uniform(0.2, 1.5)
            while child.poll() is None and time.monotonic() < deadline:
                time.sleep(0.01)
        if child.poll() is None:
            os.kill(child.pid, signal.SIGKILL)
            kills += 1
        else:
            finished += 1
        child.communicate(timeout=30)
        if write_counters(server, CUSTOMER).get("source_documents_created", 0) >= COUNT:
            break

    final = start_child(server, token)
    out, err = final.communicate(timeout=60)
    assert final.returncode == 0, err[-2000:]
    assert out.startswith("DONE"), out
    assert kills >= 3, f"only {kills} kills landed before the child finished"

    context = nuntiq_context(server, CUSTOMER, {"config": {}})
    names: Counter[str] = Counter()
    page = 1
    while True:
        body = context.api.get("/v1/source-documents", params={"page": page, "limit": 100})
        for document in body["items"]:
            for file in document["files"]:
                names[file["file_name"]] += 1
        if len(body["items"]) < 100:
            break
        page += 1
    expected = {f"doc-{i:03d}.txt": 1 for i in range(COUNT)}
    duplicates = {name: n for name, n in names.items() if n > 1}
    assert not duplicates, f"duplicated after {kills} kills: {duplicates}"
    assert dict(names) == expected

    rows = context.api.get("/v1/custom-data/adapters_delivery_ledger", params={"limit": 1000})["items"]
    states = Counter(row["value"]["state"] for row in rows if row["key"].startswith("crash/docs/"))
    assert states == {"done": COUNT}
