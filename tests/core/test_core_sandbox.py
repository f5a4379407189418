"""The core against the sandbox Nuntiq service and the local runtime (lib): real HTTP, real delta state."""

from __future__ import annotations

import hashlib
import io
import json
from collections import Counter
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from core_fakes import T0, at

from adapters.cursor import parse_timestamp
from adapters.ledger import Ledger
from adapters.nuntiq import NuntiqDocumentSource
from adapters.protocol import Ordering, Source
from adapters.records import DocumentItem
from adapters.retry import Retrier, RetryPolicy
from adapters.sinks import DocumentSink, LoadValidationError
from adapters.sync import sync
from connectors import sample_pull_suppliers
from lib.context import Context
from lib.delta import get_delta_state
from lib.jobcontext import nuntiq_context, write_counters
from sandbox.server import RunningServer

CUSTOMER = "40000001"
#: 40 % of calls fail here, and which call meets which fault depends on how many lease
#: heartbeats a loaded machine makes: 8 attempts gave up about once in a few hundred runs
FAST = RetryPolicy(initial_wait=0.001, max_wait=0.01, max_total=5, max_attempts=20)


def context_for(
    server: RunningServer, *, params: dict[str, Any] | None = None, config: dict[str, Any] | None = None
) -> Context:
    settings = {"secrets": {"source_token": "tok-never-logged"}, "config": config or {}}
    return nuntiq_context(server, CUSTOMER, settings, params=params)


# -- the sample connector on the core --------------------------------------------------------


def suppliers_file(tmp_path: Path, rows: list[dict[str, Any]]) -> Path:
    path = tmp_path / "suppliers.json"
    path.write_text(json.dumps({"suppliers": rows}), encoding="utf-8")
    return path


def supplier(n: int, minute: int, **extra: Any) -> dict[str, Any]:
    row = {"number": f"SUP-{n}", "name": f"Supplier {n}", "updated_at": at(minute).isoformat(), **extra}
    return row


def run_connector(
    server: RunningServer, path: Path, config: dict[str, Any] | None = None, **params: Any
) -> dict[str, Any]:
    context = context_for(
        server,
        params={"lookback_days": 36_500, **params},
        config={"connector_name": "sample", "suppliers_file": str(path), **(config or {})},
    )
    result: dict[str, Any] = sample_pull_suppliers.run(context)
    return result


def test_sample_connector_incremental_runs(nuntiq: RunningServer, tmp_path: Path) -> None:
    rows = [supplier(i, i) for i in range(6)]
    path = suppliers_file(tmp_path, rows)
    first = run_connector(nuntiq, path)
    assert first["fetched"] == 6 and parse_timestamp(first["cursor_committed"]) == at(5)
    rows[1] = supplier(1, 10, name="Renamed")
    suppliers_file(tmp_path, rows)
    second = run_connector(nuntiq, path)
    assert second["summary"]["cursor_before"] == first["cursor_committed"]
    assert second["fetched"] == 2  # the changed one and the inclusive boundary item
    assert parse_timestamp(second["cursor_committed"]) == at(10)
    state = get_delta_state(context_for(nuntiq).api, "sample", "suppliers")
    assert state is not None and parse_timestamp(state["cursor"]) == at(10)


def test_sample_connector_validation_failure_names_record_and_keeps_cursor(
    nuntiq: RunningServer, tmp_path: Path
) -> None:
    path = suppliers_file(tmp_path, [supplier(1, 1)])
    run_connector(nuntiq, path)
    path = suppliers_file(tmp_path, [supplier(1, 1), supplier(2, 2, name=None), supplier(3, 3)])
    with pytest.raises(LoadValidationError) as caught:
        run_connector(nuntiq, path, config={"quarantine": False})  # fail fast
    assert caught.value.keys == ["SUP-2"] and "supplier_name" in str(caught.value)
    state = get_delta_state(context_for(nuntiq).api, "sample", "suppliers")
    assert state is not None and parse_timestamp(state["cursor"]) == at(1)


def test_sample_connector_bad_since_override_fails_before_any_call(
    nuntiq: RunningServer, tmp_path: Path
) -> None:
    path = suppliers_file(tmp_path, [supplier(1, 1)])
    with pytest.raises(ValueError, match=r"since_override.*'not-a-date'"):
        run_connector(nuntiq, path, since_override="not-a-date")
    assert write_counters(nuntiq, CUSTOMER).get("delta_runs_started", 0) == 0


# -- documents ------------------------------------------------------------------------------


class Docs(Source[DocumentItem]):
    name = "docs"
    ordering = Ordering.CURSOR_ORDERED
    lookback = timedelta(0)

    def __init__(self, count: int) -> None:
        self.count = count


    def fetch_since(self, cursor: Any) -> Iterator[DocumentItem]:
        for i in range(self.count):
            data = f"file {i}".encode() * 50
            yield DocumentItem(f"k{i}", at(i), f"f{i}.txt", "text/plain", lambda data=data: io.BytesIO(data))


def all_documents(context: Context) -> list[dict[str, Any]]:
    body = context.api.get("/v1/source-documents", params={"limit": 1000})
    items: list[dict[str, Any]] = body["items"]
    return items


def test_document_sync_with_faults_is_exactly_once(nuntiq: RunningServer) -> None:
    # faults on what the sink calls; delta-state calls belong to lib, which does not retry
    nuntiq.set_faults(
        error_rate=0.3,
        statuses=[429, 502, 503],
        drop_rate=0.1,
        seed=7,
        retry_after=0,
        path_pattern="^/v1/(source-documents|custom-data)",
    )
    # the run lease's own calls retry under the job's config.retry; a dropped upload is
    # reconciled after the assumed request deadline plus a quarter lease ttl (2 s here)
    retry = {"initial_wait": 0.001, "max_wait": 0.01, "max_total": 5, "max_attempts": 12}
    run = {"lease_ttl_seconds": 4, "upload_deadline_seconds": 1}
    for _ in range(2):
        context = context_for(nuntiq, config={"retry": retry, "run": run})
        sink = DocumentSink.for_context(context, namespace="docs-test", policy=FAST, settle=0)
        summary = sync(context, Docs(12), sink, connector_name="docs-test", lookback_days=None)
        assert summary.complete
    nuntiq.set_faults()
    names = Counter(f["file_name"] for d in all_documents(context_for(nuntiq)) for f in d["files"])
    assert names == Counter({f"f{i}.txt": 1 for i in range(12)})
    assert nuntiq.stats().get("faults", 0) > 0
    retries = (
        [r for r in context.logger.records if r.get("level") == "warn"]
        if hasattr(context.logger, "records")
        else []
    )
    assert isinstance(retries, list)


def upload(context: Context, name: str, data: bytes, **fields: Any) -> dict[str, Any]:
    result: dict[str, Any] = context.api.upload_source_documents(files=[(name, data, "text/plain")], **fields)
    return result


def test_nuntiq_document_source_pages_by_keyset_inclusively(nuntiq: RunningServer) -> None:
    context = context_for(nuntiq)
    created = [upload(context, f"n{i}.txt", f"body {i}".encode()) for i in range(7)]
    source = NuntiqDocumentSource(context.api, page_size=2, retrier=Retrier.direct())
    everything = list(source.fetch_since(None))
    assert [i.name for i in everything] == [f"n{i}.txt" for i in range(7)]
    assert everything[0].key == f"{created[0]['id']}/n0.txt"
    middle = parse_timestamp(created[3]["created_at"])
    tail = list(source.fetch_since(middle))
    assert [i.name for i in tail] == ["n3.txt", "n4.txt", "n5.txt", "n6.txt"]  # inclusive bound
    with tail[0].open() as stream:
        data = stream.read()
    assert data == b"body 3" and tail[0].sha256 == hashlib.sha256(data).hexdigest()
    assert tail[0].metadata["document_id"] == created[3]["id"]


def test_nuntiq_document_source_survives_page_size_cap(nuntiq: RunningServer) -> None:
    context = context_for(nuntiq)
    for i in range(9):
        upload(context, f"c{i}.txt", b"x%d" % i)
    nuntiq.set_faults(page_size_cap=2)
    items = list(NuntiqDocumentSource(context.api, page_size=5, retrier=Retrier.direct()).fetch_since(None))
    assert sorted(i.name for i in items) == [f"c{i}.txt" for i in range(9)]


def test_push_direction_documents_to_another_sink(nuntiq: RunningServer) -> None:
    """Nuntiq documents -> (here) Nuntiq again through DocumentSink: the pipeline the Codat push uses."""
    context = context_for(nuntiq, config={"retry": FAST.model_dump()})
    for i in range(3):
        upload(context, f"p{i}.txt", b"push %d" % i)
    source = NuntiqDocumentSource.for_context(context)
    assert source.retrier.policy.model_dump() == FAST.model_dump()
    ledger = Ledger(context.api, namespace="mirror")
    sink = DocumentSink(context.api, ledger, name="mirror", settle=0)
    first = sync(context, source, sink, connector_name="mirror", lookback_days=None)
    assert first.items_read == 3 and sink.uploaded == 3
    assert parse_timestamp(first.cursor_after or "") >= T0
    assert len(all_documents(context)) == 6
