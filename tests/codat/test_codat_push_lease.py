"""The Codat push sink under the run lease: a paused run that lost its lease uploads nothing more.

The interleavings are forced, not timed: the lease's monotonic clock and the Nuntiq fake's
server clock move only when the test moves them, and the "pause" happens inside the run
at a chosen point (after the lease was confirmed for a batch, before its request leaves).
What Codat stored is read from the Codat sandbox's own upload log.
"""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta

import pytest

from adapters.codat.client import CodatFilesClient
from adapters.codat.errors import classify
from adapters.codat.sink import CodatUploadSink
from adapters.codat.upload import CodatUploader
from adapters.delivery import EntryState, GuardedSink, Ledger
from adapters.lease import LeaseLost, RunLease
from adapters.nuntiq.classifier import classify_nuntiq_error
from adapters.records import DocumentItem
from adapters.retry import Retrier, RetryPolicy
from lib.jobcontext import FakeClock, RecordingLogger
from sandbox.server import RunningServer
from tests.codat.conftest import COMPANY, CONNECTION, admin_json
from tests.core.core_fakes import FakeApi

TTL = timedelta(seconds=100)
WHEN = datetime(2026, 1, 1, tzinfo=UTC)


class Monotonic:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class PausingLease(RunLease):
    """A lease whose run is stopped (SIGSTOP) right after its ``pause_after``-th confirmation.

    While it is stopped, longer than the ttl, another run takes the lease over.
    """

    def __init__(self, api: FakeApi, monotonic: Monotonic, *, pause_after: int) -> None:
        super().__init__(
            api,
            connector_name="push",
            stream="documents",
            ttl=TTL,
            run_id="paused",
            monotonic=monotonic,
            retrier=Retrier.direct(),
        )
        self.api_fake = api
        self.clock_fake = monotonic
        self.pause_after = pause_after
        self.confirms = 0

    def confirm(self) -> None:
        super().confirm()
        self.confirms += 1
        if self.confirms == self.pause_after:
            self.api_fake.clock += TTL + timedelta(seconds=1)
            self.clock_fake.now += TTL.total_seconds() + 1
            RunLease(
                self.api_fake,
                connector_name="push",
                stream="documents",
                ttl=TTL,
                run_id="taker",
                retrier=Retrier.direct(),
            ).acquire()


def push_sink(
    client: CodatFilesClient, api: FakeApi, log: RecordingLogger, clock: FakeClock
) -> CodatUploadSink:
    codat = Retrier(classify, source="codat", logger=log, sleep=clock.sleep, clock=clock.clock)
    nuntiq = Retrier(
        classify_nuntiq_error, source="nuntiq", policy=RetryPolicy(max_attempts=2), sleep=lambda s: None
    )
    ledger = Ledger(api, namespace="push.documents", retrier=nuntiq)
    uploader = CodatUploader(
        client,
        COMPANY,
        CONNECTION,
        retrier=codat,
        logger=log,
        ledger=ledger,
        sleep=clock.sleep,
        concurrency=2,
    )
    return CodatUploadSink(uploader, batch_size=20)


def document(i: int) -> DocumentItem:
    data = f"%PDF-1.4 push {i}".encode()
    return DocumentItem(
        f"doc-{i:02d}", WHEN, f"push-{i:02d}.pdf", "application/pdf", lambda: io.BytesIO(data)
    )


def stored(codat: RunningServer) -> list[str]:
    return sorted(f["file_name"] for f in admin_json(codat, "GET", "/_sandbox/codat/uploads")["files"])


def test_the_push_sink_is_bound_by_the_sync_driver(
    client: CodatFilesClient, log: RecordingLogger, fake_clock: FakeClock
) -> None:
    assert isinstance(push_sink(client, FakeApi(), log, fake_clock), GuardedSink)


@pytest.mark.parametrize("pause_after", [2, 3], ids=["before-second-batch-sends", "before-third-batch-sends"])
def test_paused_push_run_that_lost_its_lease_uploads_nothing_more(
    client: CodatFilesClient,
    codat: RunningServer,
    log: RecordingLogger,
    fake_clock: FakeClock,
    pause_after: int,
) -> None:
    api = FakeApi()
    lease = PausingLease(api, Monotonic(), pause_after=pause_after)
    lease.acquire()
    sink = push_sink(client, api, log, fake_clock)
    sink.guard_with(lease, settle=30.0)
    delivered_before_pause = 20 * (pause_after - 1)  # every confirmation before the pause is one batch
    with pytest.raises(LeaseLost):
        for i in range(60):
            sink.add(document(i))
        sink.flush()
    sink.close()
    # The run was stopped after confirming its lease for the batch and before that batch's
    # requests left; on resuming, the fence before each request found the lease gone.
    assert stored(codat) == [f"push-{i:02d}.pdf" for i in range(delivered_before_pause)]
    assert admin_json(codat, "GET", "/_sandbox/codat/uploads")["requests"] == delivered_before_pause // 20
    # the lost batch's pending marks stay, owned by the paused run, for the new holder to reconcile
    rows = Ledger(api, namespace="push.documents").read_many([f"doc-{i:02d}" for i in range(60)])
    pending = sorted(k for k, e in rows.items() if e.state is EntryState.PENDING)
    assert pending == [f"doc-{i:02d}" for i in range(delivered_before_pause, delivered_before_pause + 20)]
    assert {rows[k].owner for k in pending} == {"paused"}
    assert all(rows[f"doc-{i:02d}"].state is EntryState.DONE for i in range(delivered_before_pause))
