"""Connect record streams hand the driver pages (adapters.protocol.Paged); subclasses keep their say.

The page path must give what the item path gives, and a subclass that filters
``fetch_since`` (through ``super()`` or not) or builds its own items with ``to_item``
must be honoured on it. A record that cannot be an item ends the run only after the
records before it on its page went to the sinks, as when items went one at a time.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pytest

from adapters.connect import ListingsSource, classify_connect_error
from adapters.failures import AdapterError, FailureClass
from adapters.protocol import Paged
from adapters.records import RecordItem
from adapters.retry import Retrier
from adapters.sync import sync
from lib.jobcontext import FakeClock
from tests.connect.connect_fakes import ScriptedClient
from tests.core.core_fakes import FakeContext, FakeDelta, ListSink

LISTINGS = [
    {"id": f"L{i}", "updated": f"2024-01-01T00:00:0{i}+00:00", "vendor": {"id": "VA-1"}} for i in range(3)
]


def source(cls: type[ListingsSource], items: list[dict[str, Any]], clock: FakeClock) -> ListingsSource:
    client = ScriptedClient([(items, f"items 0-{len(items) - 1}/{len(items)}")])
    retrier = Retrier(classify_connect_error, source="connect.test", sleep=clock.sleep, clock=clock.clock)
    return cls(client, retrier=retrier, parallel_windows=1)  # type: ignore[arg-type]


def landed(src: ListingsSource, **kwargs: Any) -> list[str]:
    sink = ListSink()
    sync(FakeContext(), src, sink, connector_name="acme", delta_run=FakeDelta(), lookback_days=None, **kwargs)
    return sink.durable


class WithoutL1(ListingsSource):
    def fetch_since(self, cursor: datetime | None) -> Iterator[RecordItem]:
        return (item for item in super().fetch_since(cursor) if item.key != "L1")


class Tagged(ListingsSource):
    def to_item(self, record: dict[str, Any], parsed: datetime | None = None) -> RecordItem:
        item = super().to_item(record, parsed)
        return RecordItem(item.key + "+tag", item.cursor, item.payload, item.stream)


def test_a_subclass_filtering_super_fetch_since_is_read_through_it(fake_clock: FakeClock) -> None:
    assert landed(source(WithoutL1, LISTINGS, fake_clock)) == ["L0", "L2"]
    assert isinstance(source(ListingsSource, LISTINGS, fake_clock), Paged)


def test_a_subclass_building_its_own_items_builds_every_item_of_a_page(fake_clock: FakeClock) -> None:
    assert landed(source(Tagged, LISTINGS, fake_clock)) == ["L0+tag", "L1+tag", "L2+tag"]


def test_a_record_without_id_fails_the_run_after_the_records_before_it_landed(fake_clock: FakeClock) -> None:
    broken = [*LISTINGS[:2], {"updated": "2024-01-01T00:00:05+00:00"}]
    sink = ListSink()
    delta = FakeDelta()
    with pytest.raises(AdapterError) as caught:
        sync(FakeContext(), source(ListingsSource, broken, fake_clock), sink, connector_name="acme",
             delta_run=delta, lookback_days=None, flush_every=1)  # fmt: skip
    assert caught.value.kind is FailureClass.INVALID and "'id'" in str(caught.value)
    assert sink.durable == ["L0", "L1"]  # flushed one at a time before the bad record was met
    assert delta.cursor is None  # the failing run commits nothing
