"""A Nuntiq 429 carries Retry-After through lib's ApiError to the one retry policy."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from adapters.failures import FailureClass
from adapters.nuntiq.classifier import classify_nuntiq_error
from adapters.retry import Retrier, RetryPolicy
from lib.api_client import ApiError
from lib.jobcontext import nuntiq_context
from sandbox.server import RunningServer, serve_in_thread


@pytest.fixture(scope="module")
def nuntiq() -> Iterator[RunningServer]:
    with serve_in_thread("nuntiq") as server:
        yield server


def test_api_error_keeps_the_retry_after_header(nuntiq: RunningServer) -> None:
    context = nuntiq_context(nuntiq)
    nuntiq.set_faults(script=[429], retry_after=7)
    with pytest.raises(ApiError) as caught:
        context.api.get("/v1/supplier")
    assert caught.value.status_code == 429
    assert caught.value.retry_after == "7"
    failure = classify_nuntiq_error(caught.value)
    assert failure is not None
    assert failure.kind is FailureClass.RATE_LIMITED
    assert failure.retry_after == 7.0


def test_retrier_waits_as_long_as_nuntiq_asked(nuntiq: RunningServer) -> None:
    context = nuntiq_context(nuntiq)
    nuntiq.set_faults(script=[429, 503], retry_after=3)
    slept: list[float] = []
    retrier = Retrier(
        classify_nuntiq_error,
        source="nuntiq",
        logger=context.logger,
        policy=RetryPolicy(initial_wait=0.01, jitter=0.5),
        sleep=slept.append,
    )
    page = retrier.call(lambda: context.api.get("/v1/supplier"), step="suppliers")
    assert page["items"] == []
    assert len(slept) == 2
    assert all(wait >= 3.0 for wait in slept), slept


def test_load_sink_for_context_retries_a_failed_save(nuntiq: RunningServer) -> None:
    from datetime import UTC, datetime

    from adapters.records import RecordItem
    from adapters.sinks import LoadSink
    from lib.objects.supplier import SupplierLoad

    retry = {"initial_wait": 0.001, "max_wait": 0.001, "jitter": 0}
    context = nuntiq_context(nuntiq, "20000001", settings={"config": {"retry": retry}})

    def mapper(item: RecordItem, load: SupplierLoad) -> object:
        supplier = load.new()
        supplier.supplier_number = item.key
        supplier.supplier_name = "Acme"
        return supplier

    sink = LoadSink.for_context(context, SupplierLoad(context), mapper)
    assert sink.retrier.policy.model_dump() == RetryPolicy(**retry).model_dump()
    sink.add(RecordItem(key="SUP-1", cursor=datetime(2026, 1, 1, tzinfo=UTC), payload={}))
    nuntiq.set_faults(script=[503], path_pattern="^/v1/supplier")
    assert sink.flush() == 1
    assert [s["supplier_number"] for s in context.api.get("/v1/supplier")["items"]] == ["SUP-1"]
    retries = [r for r in context.logger.records if r.get("level") == "warn"]
    assert retries and retries[0]["step"].startswith("save:")
