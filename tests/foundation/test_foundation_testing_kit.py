"""The test kit's FakeContext runs a whole sync without a Nuntiq service (lease rows in memory)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from adapters.protocol import Ordering, Source
from adapters.records import RecordItem
from adapters.sync import sync
from adapters.testing import FakeContext, InMemoryDelta, InMemoryNuntiq, ListSink

T0 = datetime(2026, 1, 1, tzinfo=UTC)


class Numbers(Source[RecordItem]):
    name = "numbers"
    ordering = Ordering.CURSOR_ORDERED
    lookback = timedelta(0)

    def fetch_since(self, cursor: datetime | None) -> Iterator[RecordItem]:
        for n in range(5):
            at = T0 + timedelta(minutes=n)
            if cursor is None or at >= cursor:
                yield RecordItem(key=f"n{n}", cursor=at, payload={"n": n})


def test_a_sync_runs_on_the_kit_alone_and_keeps_its_lease_rows_in_memory() -> None:
    context = FakeContext({"connector_name": "kit"}, params={"lookback_days": 3650})
    delta, sink = InMemoryDelta(), ListSink()
    first = sync(context, Numbers(), sink, connector_name="kit", delta_run=delta)
    assert first.items_read == 5 and first.outcome == "completed"
    assert delta.cursor("kit", "numbers") == "2026-01-01T00:04:00.000000Z"
    api = context.api
    assert isinstance(api, InMemoryNuntiq)
    assert any(table.startswith("adapters_") for table in api.tables)  # the run's lease rows were kept here
    second = sync(context, Numbers(), ListSink(), connector_name="kit", delta_run=delta)
    assert second.outcome == "completed" and second.cursor_before == first.cursor_after


def test_calls_it_does_not_serve_are_refused_by_name() -> None:
    api = InMemoryNuntiq()
    with pytest.raises(NotImplementedError, match="POST /v1/supplier"):
        api.post("/v1/supplier", data={})
    with pytest.raises(NotImplementedError, match="custom-data tables only, not /v1/source-documents"):
        api.get("/v1/source-documents")


def test_cassette_queries_match_term_by_term_rql_included() -> None:
    """vcrpy's own ``query`` matcher drops parts without ``=``, so every RQL page looked alike."""
    from types import SimpleNamespace

    import pytest as _pytest

    from adapters.testing.cassettes import DEFAULT_MATCH_ON, QUERY_TERMS, query_terms

    assert QUERY_TERMS in DEFAULT_MATCH_ON and "query" not in DEFAULT_MATCH_ON
    base = "http://h/public/v1/listings?"
    a = SimpleNamespace(uri=base + "ge(updated,2024-01-01T00:00:00Z)&ordering(updated)&limit=10")
    same = SimpleNamespace(uri=base + "limit=10&ordering(updated)&ge(updated,2024-01-01T00:00:00Z)")
    other = SimpleNamespace(uri=base + "ge(updated,2024-02-01T00:00:00Z)&ordering(updated)&limit=10")
    query_terms(a, same)
    with _pytest.raises(AssertionError):
        query_terms(a, other)
