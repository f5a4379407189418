"""Child process for the crash test: sync N synthetic documents through DocumentSink.

Usage: python core_crash_child.py URL CUSTOMER TOKEN COUNT

The parent SIGKILLs this process at arbitrary points and starts it again; the ledger in
the sandbox's custom data must make the uploads exactly-once regardless.
"""

from __future__ import annotations

import io
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

from adapters.protocol import Ordering, Source
from adapters.records import DocumentItem
from adapters.retry import RetryPolicy
from adapters.sinks import DocumentSink
from adapters.sync import sync
from lib.jobcontext import nuntiq_context

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def content(i: int) -> bytes:
    return (f"synthetic document {i}\n" * 200).encode()


class SyntheticDocuments(Source[DocumentItem]):
    name = "crash_docs"
    ordering = Ordering.CURSOR_ORDERED
    lookback = timedelta(0)

    def __init__(self, count: int) -> None:
        self.count = count


    def fetch_since(self, cursor: datetime | None) -> Iterator[DocumentItem]:
        for i in range(self.count):
            when = T0 + timedelta(minutes=i)
            if cursor is not None and when < cursor:
                continue
            data = content(i)
            time.sleep(0.03)  # a source that takes a while, so kills land mid-run
            yield DocumentItem(
                key=f"doc-{i:03d}",
                cursor=when,
                name=f"doc-{i:03d}.txt",
                media_type="text/plain",
                open=lambda data=data: io.BytesIO(data),
            )


def main(argv: list[str]) -> Any:
    url, customer, token, count = argv[0], argv[1], argv[2], int(argv[3])
    # A killed child's lease claim lives on for lease_ttl_seconds: the next child is "busy"
    # until then, and simply tries again (what the next scheduled run would do).
    run = {"lease_ttl_seconds": 1.2, "upload_deadline_seconds": 0.3, "checkpoint_every_items": 10}
    context = nuntiq_context(url, customer, {"config": {"run": run}}, job_token=token, keep_log_records=False)
    while True:
        sink = DocumentSink.for_context(
            context,
            namespace="crash/docs",
            policy=RetryPolicy(initial_wait=0.01, max_wait=0.1, max_total=5),
        )
        docs = SyntheticDocuments(count)
        summary = sync(context, docs, sink, connector_name="crash", flush_every=5, lookback_days=None)
        if summary.outcome != "busy":
            break
        time.sleep(0.2)
    print(f"DONE uploaded={sink.uploaded} reconciled={sink.reconciled} skipped={sink.skipped}", flush=True)
    return summary


if __name__ == "__main__":
    main(sys.argv[1:])
