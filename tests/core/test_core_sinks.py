"""LoadSink, the delivery ledger and the exactly-once DocumentSink, against in-memory fakes."""

from __future__ import annotations

import hashlib
import io
from datetime import timedelta
from typing import Any

import pytest
from core_fakes import T0, FakeApi, FakeContext, FakeDelta, document

from adapters.ledger import DeliveryStatus, EntryState, ExactlyOnce, Ledger
from adapters.nuntiq.classifier import classify_nuntiq_error
from adapters.protocol import Ordering, Source
from adapters.records import DocumentItem, RecordItem
from adapters.retry import Retrier
from adapters.sinks import (
    DocumentIntegrityError,
    DocumentSink,
    LoadSink,
    LoadValidationError,
    MappingError,
    SinkCounts,
)
from adapters.sinks.documents import DELIVERY_FIELD
from adapters.sync import sync

# -- LoadSink ---------------------------------------------------------------------------------


class Entity:
    def __init__(self) -> None:
        self.number: str | None = None
        self.name: str | None = None


class FieldErrors(Exception):
    def __init__(self, field_errors: dict[str, str], row_errors: list[dict[str, Any]] | None = None) -> None:
        super().__init__("batch rejected")
        self.field_errors = field_errors
        self.row_errors = row_errors or []


class FakeLoad:
    def __init__(self, *, use_rows: bool = True) -> None:
        self.entities: list[Entity] = []
        self.saved: list[dict[str, Any]] = []
        self.saves = 0
        self.use_rows = use_rows

    def new(self) -> Entity:
        entity = Entity()
        self.entities.append(entity)
        return entity

    def save_all(self) -> None:
        self.saves += 1
        bad = [(i, e) for i, e in enumerate(self.entities) if not e.name]
        if bad:
            rows = [{"index": i, "key": e.number, "field_errors": {"name": "required"}} for i, e in bad]
            raise FieldErrors({"name": "Required field is missing"}, rows if self.use_rows else None)
        self.saved.extend(vars(e) for e in self.entities)
        self.entities.clear()


def mapper(item: RecordItem, load: FakeLoad) -> Entity | None:
    data = item.as_mapping()
    if data.get("skip"):
        return None
    entity = load.new()
    entity.number = data["number"]
    entity.name = data.get("name")
    return entity


def rec(key: str, **payload: Any) -> RecordItem:
    return RecordItem(key=key, cursor=T0, payload={"number": key, **payload})


def test_load_sink_buffers_until_flush() -> None:
    load = FakeLoad()
    sink = LoadSink(load, mapper, name="suppliers", retrier=Retrier.direct())
    sink.add(rec("S1", name="One"))
    sink.add(rec("S2", name="Two"))
    sink.add(rec("S3", skip=True))
    assert sink.pending == 2 and load.saves == 0 and sink.counts.filtered == 1
    assert sink.flush() == 2 and sink.pending == 0 and sink.written == 2
    assert [s["number"] for s in load.saved] == ["S1", "S2"]
    assert sink.flush() == 0 and load.saves == 1


@pytest.mark.parametrize("use_rows", [True, False])
def test_validation_error_names_source_keys_and_fields(use_rows: bool) -> None:
    sink = LoadSink(FakeLoad(use_rows=use_rows), mapper, name="suppliers", retrier=Retrier.direct())
    sink.add(rec("S1", name="One"))
    sink.add(rec("S2"))
    sink.add(rec("S3", name="Three"))
    with pytest.raises(LoadValidationError) as caught:
        sink.flush()
    assert caught.value.keys == ["S2"] and "name" in caught.value.field_errors
    assert "S2" in str(caught.value) and "name" in str(caught.value) and "S1" not in str(caught.value)
    assert isinstance(caught.value.__cause__, FieldErrors)


def test_mapping_error_names_the_record() -> None:
    sink = LoadSink(FakeLoad(), mapper, name="suppliers", retrier=Retrier.direct())
    with pytest.raises(MappingError, match=r"'bad-one'.*KeyError"):
        sink.add(RecordItem(key="bad-one", cursor=T0, payload={"oops": 1}))


# -- ledger -----------------------------------------------------------------------------------


def test_ledger_round_trip_and_long_keys() -> None:
    api = FakeApi()
    ledger = Ledger(api, namespace="ns", now=api.tick)
    entry = ledger.mark_pending("a/b", fingerprint="f1", detail={"name": "x"})
    assert ledger.get("a/b") == entry and ledger.get("a") is None
    again = ledger.mark_pending("a/b", fingerprint="f1", previous=entry)
    assert (
        again.attempts == 2
        and again.marked_at == entry.marked_at
        and again.attempted_at != entry.attempted_at
    )
    done = ledger.mark_done(again, {"id": "doc-1"})
    assert ledger.get("a/b") == done and done.state is EntryState.DONE
    long_key = "k" * 500
    ledger.mark_pending(long_key, fingerprint="f2")
    row_keys = list(api.tables["adapters_delivery_ledger"])
    assert all(len(k) <= 200 for k in row_keys)
    got = ledger.get(long_key)
    assert got is not None and got.key == long_key
    assert {e.key for e in ledger.entries()} == {"a/b", long_key}
    ledger.forget(["a/b"])
    assert ledger.get("a/b") is None
    other = Ledger(api, namespace="other", now=api.tick)
    assert other.get(long_key) is None  # namespaces are separate


def test_ledger_prune_keeps_pending_and_recent() -> None:
    api = FakeApi()
    ledger = Ledger(api, namespace="ns", now=api.tick)
    old_done = ledger.mark_done(ledger.mark_pending("old", fingerprint="f"), {})
    old_pending = ledger.mark_pending("stuck", fingerprint="f")
    cutoff = api.tick()
    ledger.mark_done(ledger.mark_pending("new", fingerprint="f"), {})
    assert old_done.marked_at < cutoff and old_pending.marked_at < cutoff
    assert ledger.prune(cutoff) == 1
    assert sorted(e.key for e in ledger.entries()) == ["new", "stuck"]


def test_exactly_once_generic_protocol() -> None:
    api = FakeApi()
    once = ExactlyOnce(Ledger(api, namespace="codat", now=api.tick), sleep=lambda s: None)
    sent: list[str] = []

    def send() -> dict[str, Any]:
        sent.append("x")
        return {"ok": True}

    retrier = Retrier(classify_nuntiq_error, source="nuntiq", sleep=lambda s: None)
    first = once.deliver("file-1", fingerprint="abc", send=send, find=lambda e: None, retrier=retrier)
    second = once.deliver("file-1", fingerprint="abc", send=send, find=lambda e: None, retrier=retrier)
    changed = once.deliver("file-1", fingerprint="def", send=send, find=lambda e: None, retrier=retrier)
    assert [first.status, second.status, changed.status] == [
        DeliveryStatus.SENT,
        DeliveryStatus.SKIPPED,
        DeliveryStatus.SENT,
    ]
    assert len(sent) == 2


# -- DocumentSink -----------------------------------------------------------------------------


def doc_sink(api: FakeApi, **kw: Any) -> DocumentSink:
    ledger = Ledger(api, namespace="docs", now=api.tick)
    retrier = Retrier(classify_nuntiq_error, source="nuntiq", sleep=lambda s: None)
    return DocumentSink(api, ledger, retrier=retrier, sleep=lambda s: None, **kw)


def files(api: FakeApi) -> list[str]:
    return sorted(f["file_name"] for d in api.documents for f in d["files"])


def test_uploads_once_and_rerun_skips() -> None:
    api = FakeApi()
    items = [document(f"d{i}", f"content {i}".encode()) for i in range(5)]
    sink = doc_sink(api)
    for item in items:
        sink.add(item)
    assert api.uploads == 0 and sink.pending == 5  # delivered as one batch, at the flush
    assert sink.flush() == 5 and sink.uploaded == 5 and sink.pending == 0
    rerun = doc_sink(api)
    for item in items:
        rerun.add(item)
    assert rerun.flush() == 5
    assert rerun.skipped == 5 and rerun.uploaded == 0 and api.uploads == 5
    assert files(api) == [f"d{i}.pdf" for i in range(5)]
    assert api.documents[0]["files"][0]["sha256"] == hashlib.sha256(b"content 0").hexdigest()


def test_crash_after_upload_before_done_is_reconciled() -> None:
    api = FakeApi()
    item = document("d1", b"hello")
    ledger = Ledger(api, namespace="docs", now=api.tick)
    # what a process killed right after the upload leaves behind
    entry = ledger.mark_pending("d1", fingerprint=hashlib.sha256(b"hello").hexdigest(), detail={})
    api.upload_source_documents(
        files=[("d1.pdf", b"hello", "application/pdf")], **{DELIVERY_FIELD: ledger.row_key("d1")}
    )
    sink = doc_sink(api)
    sink.add(item)
    sink.flush()
    assert sink.reconciled == 1 and sink.uploaded == 0 and api.uploads == 1
    done = ledger.get("d1")
    assert done is not None and done.state is EntryState.DONE and done.result["id"] == api.documents[0]["id"]
    assert done.marked_at == entry.marked_at


def test_same_file_in_another_document_is_not_a_match() -> None:
    api = FakeApi()
    Ledger(api, namespace="docs", now=api.tick).mark_pending(
        "d1", fingerprint=hashlib.sha256(b"hello").hexdigest()
    )
    # the very same file, uploaded by someone else after the pending mark
    api.upload_source_documents(files=[("d1.pdf", b"hello", "application/pdf")], source="elsewhere")
    sink = doc_sink(api)
    sink.add(document("d1", b"hello"))
    sink.flush()
    assert sink.uploaded == 1 and sink.reconciled == 0 and len(api.documents) == 2


def test_crash_after_pending_before_upload_uploads_once() -> None:
    api = FakeApi()
    Ledger(api, namespace="docs", now=api.tick).mark_pending(
        "d1", fingerprint=hashlib.sha256(b"hi").hexdigest()
    )
    sink = doc_sink(api)
    sink.add(document("d1", b"hi"))
    sink.flush()
    assert sink.uploaded == 1 and api.uploads == 1


def test_same_name_other_content_is_not_a_match() -> None:
    api = FakeApi()
    Ledger(api, namespace="docs", now=api.tick).mark_pending(
        "d1", fingerprint=hashlib.sha256(b"new").hexdigest()
    )
    api.upload_source_documents(files=[("d1.pdf", b"old", "application/pdf")])
    sink = doc_sink(api)
    sink.add(document("d1", b"new"))
    sink.flush()
    assert sink.uploaded == 1 and len(api.documents) == 2


def test_lost_response_is_retried_without_duplicate() -> None:
    api = FakeApi()
    api.fail_upload_after_create = [502]  # created server-side, client sees 502
    sink = doc_sink(api)
    sink.add(document("d1", b"x"))
    sink.flush()
    assert len(api.documents) == 1 and sink.reconciled == 1


def test_failed_upload_is_retried() -> None:
    api = FakeApi()
    api.fail_upload_before_create = [503, 0]
    sink = doc_sink(api)
    sink.add(document("d1", b"x"))
    sink.flush()
    assert len(api.documents) == 1 and api.uploads == 3 and sink.uploaded == 1


def test_auth_failure_is_not_retried() -> None:
    api = FakeApi()
    api.fail_upload_before_create = [401]
    sink = doc_sink(api)
    with pytest.raises(Exception, match="auth"):
        sink.add(document("d1", b"x"))
        sink.flush()
    assert api.uploads == 1


def test_integrity_checks() -> None:
    api = FakeApi()
    sink = doc_sink(api)
    bad_sha = DocumentItem("d1", T0, "a.pdf", "application/pdf", lambda: io.BytesIO(b"abc"), sha256="00" * 32)
    with pytest.raises(DocumentIntegrityError, match=r"'d1'.*sha256"):
        sink.add(bad_sha)
    bad_size = DocumentItem("d2", T0, "b.pdf", "application/pdf", lambda: io.BytesIO(b"abc"), size=4)
    with pytest.raises(DocumentIntegrityError, match=r"'d2'.*3 bytes"):
        sink.add(bad_size)
    assert api.uploads == 0


def test_large_document_spools_to_disk() -> None:
    api = FakeApi()
    data = bytes(range(256)) * 20_000  # ~5 MB
    sink = doc_sink(api, spool_max_bytes=64 * 1024)
    sink.add(DocumentItem("big", T0, "big.bin", "application/octet-stream", lambda: io.BytesIO(data)))
    sink.flush()
    assert api.documents[0]["files"][0]["sha256"] == hashlib.sha256(data).hexdigest()
    assert api.documents[0]["files"][0]["size"] == len(data)


class DocSource(Source[DocumentItem]):
    name = "docs"
    ordering = Ordering.CURSOR_ORDERED
    lookback = timedelta(0)

    def __init__(self, items: list[DocumentItem]) -> None:
        self.items = items


    def fetch_since(self, cursor: Any) -> Any:
        return iter(self.items)


def test_document_sync_through_driver() -> None:
    api = FakeApi()
    items = [document(f"d{i}", bytes([i]) * 10, cursor=T0) for i in range(3)]
    delta = FakeDelta()
    ctx = FakeContext(api=api)
    summary = sync(
        ctx, DocSource(items), doc_sink(api), connector_name="c", delta_run=delta, lookback_days=None
    )
    again = sync(
        ctx, DocSource(items), doc_sink(api), connector_name="c", delta_run=delta, lookback_days=None
    )
    assert summary.written == {"source_documents": 3}
    assert summary.sinks["source_documents"] == SinkCounts(written=3)
    assert again.written == {"source_documents": 0} and len(api.documents) == 3
    assert again.sinks["source_documents"] == SinkCounts(already_present=3)


def test_for_context_wiring() -> None:
    ctx = FakeContext()
    sink = DocumentSink.for_context(ctx, namespace="acme/docs", settle=0)
    assert sink.ledger.namespace == "acme/docs" and sink.retrier is not None
    sink.add(document("d1", b"z"))
    sink.flush()
    assert sink.uploaded == 1


# -- RowSink ------------------------------------------------------------------------------------


def test_row_sink_upserts_on_flush() -> None:
    from adapters.sinks import RowSink

    api = FakeApi()
    sink = RowSink(api, "rates", value=lambda item: item.as_mapping()["rate"], retrier=Retrier.direct())
    sink.add(RecordItem("EUR", T0, {"rate": 1.0}))
    sink.add(RecordItem("USD", T0, {"rate": 1.1}))
    sink.add(RecordItem("USD", T0, {"rate": 1.2}))
    assert api.tables == {} and sink.pending == 3
    assert sink.flush() == 3
    assert api.tables["rates"] == {"EUR": 1.0, "USD": 1.2}
    assert sink.flush() == 0
