"""The delivery core in batches: its cost, partial failure, a crash mid-batch, bounded concurrency.

Every test attacks one claim of :mod:`adapters.delivery`: a batch costs one ledger read
and two writes; a group that fails leaves the others recorded; a run that dies between
sending and recording is reconciled, not resent; no more than ``concurrency`` sends are
in flight; bad input is refused by name.
"""

from __future__ import annotations

import io
import threading
import time
from collections.abc import Mapping, Sequence
from typing import Any

import pytest
from core_fakes import FakeApi, FakeApiError, document

from adapters.delivery import (
    ContentMismatch,
    Delivery,
    DeliveryStatus,
    EntryState,
    ExactlyOnce,
    Ledger,
    LedgerEntry,
    spool,
)
from adapters.delivery.store import ProcessMemory
from adapters.failures import AdapterError, FailureClass
from adapters.nuntiq.classifier import classify_nuntiq_error
from adapters.retry import Retrier, RetryPolicy
from adapters.sinks import DocumentSink


def retrier(attempts: int = 3) -> Retrier:
    return Retrier(
        classify_nuntiq_error,
        source="nuntiq",
        policy=RetryPolicy(max_attempts=attempts),
        sleep=lambda s: None,
    )


class CountingApi(FakeApi):
    def __init__(self) -> None:
        super().__init__()
        self.calls: list[str] = []

    def get(self, path: str, params: Mapping[str, Any] | None = None, extra_headers: Any = None) -> Any:
        self.calls.append(f"GET {path}")
        return super().get(path, params, extra_headers)

    def put(self, path: str, data: Any = None, extra_headers: Any = None) -> Any:
        self.calls.append(f"PUT {path} {len(data['rows'])}")
        return super().put(path, data, extra_headers)


class Target:
    """A target that creates a new object on every call (like ``upload_source_documents``)."""

    def __init__(self) -> None:
        self.stored: list[str] = []
        self.fail: dict[str, int] = {}  # key -> status raised (after storing when negative)
        self.lock = threading.Lock()
        self.in_flight = 0
        self.most_in_flight = 0
        self.delay = 0.0

    def send(self, group: Sequence[Delivery]) -> dict[str, Mapping[str, Any]]:
        with self.lock:
            self.in_flight += 1
            self.most_in_flight = max(self.most_in_flight, self.in_flight)
        try:
            time.sleep(self.delay)
            out: dict[str, Mapping[str, Any]] = {}
            for d in group:
                status = self.fail.get(d.key)
                if status is not None and status > 0:
                    raise FakeApiError(status, "{}")
                with self.lock:
                    self.stored.append(d.key)
                if status is not None:
                    raise FakeApiError(-status, "{}")  # stored, but the answer is lost
                out[d.key] = {"id": f"obj-{d.key}"}
            return out
        finally:
            with self.lock:
                self.in_flight -= 1

    def find(self, entries: Sequence[LedgerEntry]) -> dict[str, Mapping[str, Any]]:
        return {e.key: {"id": f"obj-{e.key}", "found": True} for e in entries if e.key in self.stored}


def batch(n: int, prefix: str = "file") -> list[Delivery]:
    return [Delivery(f"{prefix}-{i:03d}", f"sha-{i}", {"n": i}) for i in range(n)]


def test_a_batch_costs_one_read_and_two_writes() -> None:
    api, target = CountingApi(), Target()
    once = ExactlyOnce(Ledger(api, namespace="docs"), sleep=lambda s: None)
    outcomes = once.deliver_batch(
        batch(40), send=target.send, find=target.find, retrier=retrier(), concurrency=4
    )
    assert [o.status for o in outcomes] == [DeliveryStatus.SENT] * 40
    table = "/v1/custom-data/adapters_delivery_ledger"
    assert api.calls == [f"GET {table}", f"PUT {table} 40", f"PUT {table} 40"]
    api.calls.clear()
    again = once.deliver_batch(batch(40), send=target.send, find=target.find, retrier=retrier())
    assert {o.status for o in again} == {DeliveryStatus.SKIPPED} and api.calls == [f"GET {table}"]
    assert len(target.stored) == 40


def test_keys_without_a_common_prefix_are_read_one_by_one_not_by_listing_the_namespace() -> None:
    api = CountingApi()
    ledger = Ledger(api, namespace="docs")
    for key in ("a", "b", "c"):
        ledger.mark_done(ledger.mark_pending(key, fingerprint="x"), {})
    for i in range(50):  # history the read must not page through
        ledger.mark_done(ledger.mark_pending(f"old-{i}", fingerprint="x"), {})
    api.calls.clear()
    found = ledger.read_many(["a", "b", "c", "zzz"])
    assert sorted(found) == ["a", "b", "c"] and len(api.calls) == 4  # one per key, no namespace listing


def test_a_failing_group_leaves_the_others_recorded_and_its_own_mark_pending() -> None:
    api, target = CountingApi(), Target()
    target.fail = {"file-007": 503}
    ledger = Ledger(api, namespace="docs")
    once = ExactlyOnce(ledger, sleep=lambda s: None)
    outcomes = once.deliver_batch(
        batch(12), send=target.send, find=target.find, retrier=retrier(attempts=2), concurrency=3
    )
    failed = [o for o in outcomes if o.status is DeliveryStatus.FAILED]
    assert len(failed) == 1 and isinstance(failed[0].error, AdapterError)
    assert failed[0].entry is not None and failed[0].entry.key == "file-007"
    entries = ledger.read_many([d.key for d in batch(12)])
    assert entries["file-007"].state is EntryState.PENDING
    assert all(e.state is EntryState.DONE for k, e in entries.items() if k != "file-007")
    assert sorted(target.stored) == [d.key for d in batch(12) if d.key != "file-007"]


def test_a_run_that_dies_between_sending_and_recording_is_reconciled_not_resent() -> None:
    api, target = CountingApi(), Target()
    ledger = Ledger(api, namespace="docs")
    dying = ExactlyOnce(ledger, sleep=lambda s: None, settle=0)
    # the pending write succeeds, everything is sent, then the process dies at the done write
    original_put = api.put
    writes = {"n": 0}

    def put_then_die(path: str, data: Any = None, extra_headers: Any = None) -> Any:
        writes["n"] += 1
        if writes["n"] == 2:
            raise SystemExit("killed before the done write")
        return original_put(path, data, extra_headers)

    api.put = put_then_die  # type: ignore[method-assign]
    with pytest.raises(SystemExit):
        dying.deliver_batch(batch(25), send=target.send, find=target.find, retrier=retrier(), concurrency=4)
    assert len(target.stored) == 25
    assert {e.state for e in ledger.read_many([d.key for d in batch(25)]).values()} == {EntryState.PENDING}
    api.put = original_put  # type: ignore[method-assign]
    rerun = ExactlyOnce(Ledger(api, namespace="docs"), sleep=lambda s: None, settle=0)
    outcomes = rerun.deliver_batch(batch(25), send=target.send, find=target.find, retrier=retrier())
    assert {o.status for o in outcomes} == {DeliveryStatus.RECONCILED}
    assert len(target.stored) == 25  # nothing sent twice


def test_a_lost_answer_is_found_before_the_retry_resends() -> None:
    target = Target()
    target.fail = {"file-002": -503}  # stored, then the answer is lost
    once = ExactlyOnce(Ledger(FakeApi(), namespace="docs"), sleep=lambda s: None, settle=0)
    outcomes = once.deliver_batch(
        batch(5), send=target.send, find=target.find, retrier=retrier(), concurrency=2
    )
    assert outcomes[2].status is DeliveryStatus.RECONCILED and outcomes[2].result["found"] is True
    assert sorted(target.stored) == [d.key for d in batch(5)]


def test_sends_in_flight_never_pass_the_concurrency() -> None:
    target = Target()
    target.delay = 0.02
    once = ExactlyOnce(Ledger(FakeApi(), namespace="docs"), sleep=lambda s: None)
    once.deliver_batch(batch(30), send=target.send, find=target.find, retrier=retrier(), concurrency=3)
    assert target.most_in_flight == 3 and len(target.stored) == 30


def test_groups_carry_several_keys_per_request() -> None:
    sizes: list[int] = []
    target = Target()

    def send(group: Sequence[Delivery]) -> dict[str, Mapping[str, Any]]:
        sizes.append(len(group))
        return target.send(group)

    once = ExactlyOnce(Ledger(FakeApi(), namespace="docs"), sleep=lambda s: None)
    once.deliver_batch(
        batch(45), send=send, find=target.find, retrier=retrier(), group_size=20, concurrency=2
    )
    assert sorted(sizes) == [5, 20, 20]


def test_bad_batches_are_refused_by_name() -> None:
    once = ExactlyOnce(Ledger(None, namespace="docs", store=ProcessMemory()))
    twice = [Delivery("same", "a"), Delivery("same", "b")]
    with pytest.raises(ValueError, match="same key twice"):
        once.deliver_batch(twice, send=Target().send, find=Target().find, retrier=retrier())
    with pytest.raises(ValueError, match=r"api .* or a store"):
        Ledger(None, namespace="docs")


def test_spool_serves_the_hashed_bytes_again_and_names_a_mismatch() -> None:
    data = b"x" * 300_000
    with spool(lambda: io.BytesIO(data), describe="doc 'd1'", max_memory=1024) as spooled:
        for _ in range(2):  # a retry reads it again; closing a reader keeps the spool
            with spooled.reader() as reader:
                assert reader.read() == data
        assert spooled.size == len(data)
    with pytest.raises(ContentMismatch, match=r"doc 'd2'.*announced 5"):
        spool(lambda: io.BytesIO(b"abc"), describe="doc 'd2'", size=5)


class RefusingApi(FakeApi):
    """Refuses (400) every upload of ``refused``; each other file's first upload is lost once."""

    def __init__(self, refused: str) -> None:
        super().__init__()
        self.refused = refused
        self.lost: set[str] = set()

    def upload_source_documents(self, files: list[Any], **kwargs: Any) -> Any:
        name = files[0][0]
        if name == self.refused:
            raise FakeApiError(400, '{"message": "bad file"}')
        if name not in self.lost:
            self.lost.add(name)
            raise FakeApiError(0, "connection reset")  # never reached the server: resent
        return super().upload_source_documents(files, **kwargs)


def test_document_sink_isolates_a_refused_upload_and_delivers_the_rest_of_its_batch() -> None:
    api = RefusingApi("d1.pdf")
    sink = DocumentSink(api, Ledger(api, namespace="docs"), retrier=retrier(), settle=0, concurrency=3)
    items = [document(f"d{i}", f"content {i}".encode()) for i in range(6)]
    for item in items:
        sink.add(item)
    result = sink.flush_isolating()
    assert [r.key for r in result.rejected] == ["d1"] and result.written == 5
    assert sorted(d["files"][0]["file_name"] for d in api.documents) == sorted(
        f"d{i}.pdf" for i in range(6) if i != 1
    )
    # fail-fast use: the refusal is the run's error
    again = DocumentSink(api, Ledger(api, namespace="docs2"), retrier=retrier(), settle=0, concurrency=1)
    again.add(items[1])
    with pytest.raises(AdapterError) as info:
        again.flush()
    assert info.value.kind is FailureClass.INVALID


def test_a_group_sent_late_in_its_batch_renews_its_mark_first() -> None:
    """A pending mark is reconciled ``settle`` after its stamp; a send long after the mark must renew it.

    Otherwise a slow group ahead of it would leave its request less than the upload deadline
    between leaving and being looked for, and a slow upload still in progress would be sent again.
    """
    api, target = FakeApi(), Target()
    ticks = {"now": 0.0}
    slow = {"file-000"}

    def send(group: Sequence[Delivery]) -> dict[str, Mapping[str, Any]]:
        if group[0].key in slow:
            ticks["now"] += 10.0  # this request took as long as the whole settle window
        return target.send(group)

    ledger = Ledger(api, namespace="docs")
    once = ExactlyOnce(ledger, settle=10.0, sleep=lambda s: None, monotonic=lambda: ticks["now"])
    once.deliver_batch(batch(3), send=send, find=target.find, retrier=retrier(), concurrency=1)
    entries = ledger.read_many([d.key for d in batch(3)])
    assert entries["file-000"].attempts == 1  # sent at once: its first mark covers it
    # the two behind it were marked too long before their turn: renewed before they went
    assert entries["file-001"].attempts == 2 and entries["file-002"].attempts == 2
    assert len(target.stored) == 3
