"""Kill the push connector mid-upload, run it again: every file reaches Codat exactly once."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections import Counter

import connectors.codat_push_documents as push
from lib.jobcontext import nuntiq_context
from sandbox.server import RunningServer, serve_in_thread
from tests.codat.conftest import API_KEY, COMPANY, CONNECTION, admin_json

CHILD = """
import json, sys
import connectors.codat_push_documents as push
from lib.jobcontext import nuntiq_context
url, customer, settings = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
push.run(nuntiq_context(url, customer, settings))
"""


def test_killed_push_rerun_delivers_each_file_once(codat: RunningServer) -> None:
    nuntiq = serve_in_thread("nuntiq")
    try:
        settings = {
            "secrets": {"codat_api_key": API_KEY},
            "config": {
                "connector_name": "codat_push_crash",
                "codat": {"server_url": codat.url, "company_id": COMPANY, "connection_id": CONNECTION},
                # the killed run's lease lapses 2 s after its last heartbeat
                # one request at a time, so the kill lands between two of them
                "run": {"lease_ttl_seconds": 2, "upload_deadline_seconds": 0.5, "upload_concurrency": 1},
            },
            "job_params": {"lookback_days": 3650},
        }
        customer = "30000001"
        seed = nuntiq_context(nuntiq, customer, settings)
        for i in range(30):
            seed.api.upload_source_documents(
                files=[(f"crash-{i:02d}.pdf", f"%PDF {i}".encode(), "application/pdf")]
            )
        # each upload request is held long enough for the kill to land mid-run
        codat.set_faults(latency_ms=400, path_pattern="/connections/")
        child = subprocess.Popen(
            [sys.executable, "-c", CHILD, nuntiq.url, customer, json.dumps(settings)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            deadline = time.monotonic() + 60
            while admin_json(codat, "GET", "/_sandbox/codat/uploads")["requests"] < 1:
                assert child.poll() is None, "the push finished before it could be killed"
                assert time.monotonic() < deadline
                time.sleep(0.02)
            child.kill()
        finally:
            child.wait(timeout=30)
        before = len(admin_json(codat, "GET", "/_sandbox/codat/uploads")["files"])
        assert 0 < before < 30

        codat.set_faults()
        time.sleep(2.2)  # until the killed run's lease has lapsed (a rerun before that is "busy")
        result = push.run(nuntiq_context(nuntiq, customer, settings))
        names = Counter(f["file_name"] for f in admin_json(codat, "GET", "/_sandbox/codat/uploads")["files"])
        assert len(names) == 30 and set(names.values()) == {1}
        assert result["uploaded"] + result["reconciled"] + result["already_delivered"] >= 30 - before
    finally:
        nuntiq.stop()
