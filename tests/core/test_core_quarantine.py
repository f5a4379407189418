"""Quarantine: a refused item is kept, the rest commits, a fixed item lands and is released.

Against in-memory fakes of the framework surface (custom-data rows, delta_run, a Load
whose ValidationError names fields only, like the framework's).
"""

from __future__ import annotations

import io
from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime, timedelta
from typing import IO, Any

import pytest
from core_fakes import FakeApi, FakeApiError, FakeContext, FakeDelta, ListSink, at

from adapters.cursor import format_cursor
from adapters.failures import AdapterError, Failure, FailureClass
from adapters.ledger import Ledger
from adapters.nuntiq.retrier import nuntiq_retrier
from adapters.protocol import Ordering, Source
from adapters.quarantine import (
    DEFAULT_TABLE,
    ItemRefusedError,
    Quarantine,
    QuarantineLimitExceeded,
    QuarantineSettings,
    QuarantineStore,
    parse_keys,
)
from adapters.records import DocumentItem, RecordItem, Refetch, RefusedItem, SourceItem
from adapters.retry import Retrier
from adapters.sinks import DocumentSink, LoadSink
from adapters.sync import sync

CONNECTOR = "acme"


class FieldsOnlyValidationError(Exception):
    """The framework's ValidationError shape: field errors, no rows."""

    def __init__(self, field_errors: Mapping[str, str]) -> None:
        super().__init__(f"validation failed: {dict(field_errors)}")
        self.field_errors = dict(field_errors)


class FakeLoad:
    """A Load that upserts into ``table`` and rejects a whole batch if any row lacks a name."""

    def __init__(self, table: dict[str, dict[str, Any]], calls: list[int]) -> None:
        self.table = table
        self.calls = calls
        self.dirty: list[dict[str, Any]] = []

    def new(self) -> dict[str, Any]:
        entity: dict[str, Any] = {}
        self.dirty.append(entity)
        return entity

    def save_all(self) -> int:
        self.calls.append(len(self.dirty))
        if any(not e.get("name") for e in self.dirty):
            raise FieldsOnlyValidationError({"supplier_name": "Required field is missing"})
        for entity in self.dirty:
            self.table[entity["number"]] = dict(entity)
        count = len(self.dirty)
        self.dirty.clear()
        return count


def map_row(item: RecordItem, load: FakeLoad) -> Any:
    data = item.as_mapping()
    if data.get("unmappable"):
        raise KeyError("number")
    entity = load.new()
    entity["number"] = item.key
    entity["name"] = data.get("name")
    return entity


def load_sink(table: dict[str, dict[str, Any]], calls: list[int] | None = None) -> LoadSink[RecordItem]:
    calls = calls if calls is not None else []
    return LoadSink(
        FakeLoad(table, calls),
        map_row,
        name="suppliers",
        retrier=Retrier.direct(),
        fresh_load=lambda: FakeLoad(table, calls),
    )


class RecordsSource(Source[Any]):
    """Cursor-ordered records; ``poison`` keys are refused by the source, ``fix()`` fixes them.

    ``unnamed`` keys map to a row without a name (the Load
    rejects it); ``unmappable`` keys make the mapper fail.
    """

    name = "things"
    ordering = Ordering.CURSOR_ORDERED
    lookback = timedelta(0)

    def __init__(
        self,
        n: int,
        *,
        poison: Sequence[str] = (),
        unnamed: Sequence[str] = (),
        unmappable: Sequence[str] = (),
    ) -> None:
        self.rows = {f"r{i:03d}": at(i) for i in range(n)}
        self.poison = set(poison)
        self.unnamed = set(unnamed)
        self.unmappable = set(unmappable)
        self.refetched: list[list[Refetch]] = []


    def fix(self) -> None:
        self.poison.clear()
        self.unnamed.clear()
        self.unmappable.clear()

    def build(self, key: str) -> SourceItem:
        when = self.rows[key]
        if key in self.poison:
            return RefusedItem(
                key, when, f"record {key!r}: amount 'twelve' is not a number", stream=self.name
            )
        payload = {
            "name": None if key in self.unnamed else f"Supplier {key}",
            "unmappable": key in self.unmappable,
        }
        return RecordItem(key, when, payload, stream=self.name)

    def fetch_since(self, cursor: datetime | None) -> Iterator[SourceItem]:
        for key, when in sorted(self.rows.items(), key=lambda kv: kv[1]):
            if cursor is None or when >= cursor:
                yield self.build(key)


class PoisonSource(RecordsSource):
    """:class:`RecordsSource` that can fetch quarantined records again by key."""

    def refetch(self, wanted: Sequence[Refetch]) -> Iterator[SourceItem]:
        self.refetched.append(list(wanted))
        for request in wanted:
            if request.key in self.rows:
                yield self.build(request.key)


def make_quarantine(ctx: FakeContext, **settings: Any) -> Quarantine:
    ctx.config["quarantine"] = settings
    quarantine = Quarantine.for_context(ctx, connector_name=CONNECTOR)
    assert quarantine is not None
    return quarantine


def run(
    source: Any,
    sinks: Any,
    delta: FakeDelta,
    api: FakeApi,
    *,
    params: Mapping[str, Any] | None = None,
    settings: Mapping[str, Any] | None = None,
    fail_fast: bool = False,
    flush_every: int = 500,
) -> Any:
    ctx = FakeContext(params, api=api)
    quarantine = None if fail_fast else make_quarantine(ctx, **dict(settings or {}))
    summary = sync(
        ctx,
        source,
        sinks,
        connector_name=CONNECTOR,
        delta_run=delta,
        lookback_days=None,
        now=lambda: at(10_000),
        quarantine=quarantine,
        flush_every=flush_every,
    )
    return summary, ctx


def stored(api: FakeApi) -> dict[str, Any]:
    return {row["key"]: row for row in api.tables.get(DEFAULT_TABLE, {}).values()}


def test_poison_record_is_quarantined_and_the_rest_commits() -> None:
    api, delta, sink = FakeApi(), FakeDelta(), ListSink()
    source = PoisonSource(10, poison=["r004"])
    summary, ctx = run(source, sink, delta, api)
    assert sink.durable == [f"r{i:03d}" for i in range(10) if i != 4]
    assert delta.cursor == format_cursor(at(9))  # moved past the poison: it is kept
    entry = stored(api)["r004"]
    assert entry["stream"] == "things" and entry["stage"] == "source" and "twelve" in entry["reason"]
    assert entry["first_seen"] == entry["last_seen"] and entry["cursor"] == format_cursor(at(4))
    assert summary.quarantine["refused"] == 1 and summary.quarantine["refused_keys"] == ["r004"]
    assert delta.runs[-1][1].metadata["quarantine"]["held"] == 1
    errors = [r for r in ctx.logger.of("error") if r[2] == "quarantine"]
    assert len(errors) == 1 and "r004" in errors[0][1]


def test_fixed_record_lands_on_the_next_run_and_is_released() -> None:
    api, delta, sink = FakeApi(), FakeDelta(), ListSink()
    source = PoisonSource(10, poison=["r004"])
    run(source, sink, delta, api)
    # still bad: retried first, seen again, kept, not counted as new
    summary, _ = run(source, sink, delta, api)
    assert [r.key for r in source.refetched[-1]] == ["r004"]
    assert summary.quarantine["retry_refused"] == 1 and summary.quarantine["refused"] == 0
    assert stored(api)["r004"]["times_seen"] == 2
    source.fix()
    summary, _ = run(source, sink, delta, api)
    assert "r004" in sink.durable
    assert summary.quarantine["released_keys"] == ["r004"] and summary.quarantine["held"] == 0
    assert stored(api) == {}
    calls = len(source.refetched)
    summary, _ = run(source, sink, delta, api)
    assert summary.quarantine["retried"] == 0 and len(source.refetched) == calls  # nothing left to retry


def test_past_the_threshold_the_run_fails_and_the_cursor_stays() -> None:
    api, delta = FakeApi(), FakeDelta(format_cursor(at(0)))
    source = PoisonSource(20, poison=["r003", "r005", "r007"])
    with pytest.raises(QuarantineLimitExceeded, match=r"3 items refused.*limit of 2.*r003, r005, r007"):
        run(source, ListSink(), delta, api, settings={"max_items": 2, "max_ratio": 0.0})
    assert delta.cursor == format_cursor(at(0)) and delta.runs[-1][0] == "failed"
    # a rerun reads the same window again and fails again: the threshold cannot be dodged
    with pytest.raises(QuarantineLimitExceeded):
        run(source, ListSink(), delta, api, settings={"max_items": 2, "max_ratio": 0.0})
    assert delta.cursor == format_cursor(at(0))


def test_threshold_is_the_larger_of_items_and_ratio() -> None:
    settings = QuarantineSettings()
    assert settings.limit(0) == 100 and settings.limit(10_000) == 100 and settings.limit(50_000) == 500
    api, delta = FakeApi(), FakeDelta()
    source = PoisonSource(200, poison=[f"r{i:03d}" for i in range(0, 200, 20)])  # 10 of 200 = 5 %
    summary, _ = run(source, ListSink(), delta, api, settings={"max_items": 0, "max_ratio": 0.05})
    assert summary.quarantine["refused"] == 10 and delta.cursor == format_cursor(at(199))


def test_a_big_old_quarantine_does_not_fail_later_runs() -> None:
    api, delta = FakeApi(), FakeDelta()
    source = PoisonSource(10, poison=["r001", "r002", "r003"])
    run(source, ListSink(), delta, api, settings={"max_items": 5})
    source.rows.update({f"r{i:03d}": at(i) for i in range(10, 15)})
    summary, _ = run(source, ListSink(), delta, api, settings={"max_items": 1, "max_ratio": 0})
    assert summary.quarantine["retried"] == 3 and summary.quarantine["retry_refused"] == 3
    assert summary.quarantine["refused"] == 0 and delta.cursor == format_cursor(at(14))


def test_fail_fast_without_a_quarantine() -> None:
    api, delta = FakeApi(), FakeDelta(format_cursor(at(0)))
    with pytest.raises(ItemRefusedError, match=r"refused 'r004'.*twelve"):
        run(PoisonSource(10, poison=["r004"]), ListSink(), delta, api, fail_fast=True)
    assert delta.cursor == format_cursor(at(0)) and stored(api) == {}
    ctx = FakeContext(config={"quarantine": False})
    assert Quarantine.for_context(ctx, connector_name=CONNECTOR) is None


def test_settings_and_params_are_checked_before_any_call() -> None:
    for config, match in [
        ({"quarantine": {"max_items": -1}}, r"config.quarantine is not valid: max_items"),
        ({"quarantine": {"max_ratio": 2}}, r"max_ratio"),
        ({"quarantine": {"max_itemz": 5}}, r"max_itemz"),
        ({"quarantine": "yes"}, r"config.quarantine must be false or an object"),
    ]:
        with pytest.raises(ValueError, match=match):
            Quarantine.for_context(FakeContext(config=config), connector_name=CONNECTOR)
    with pytest.raises(ValueError, match="quarantine_retry is not a JSON list"):
        Quarantine.for_context(FakeContext({"quarantine_retry": "[oops"}), connector_name=CONNECTOR)
    assert parse_keys("p", "a, b,,c") == {"a", "b", "c"}
    assert parse_keys("p", '["a,1", "b"]') == {"a,1", "b"}
    assert parse_keys("p", "all") is None and parse_keys("p", "none") == set()


def test_mapping_failure_and_load_rejections_are_isolated_by_bisection() -> None:
    api, delta, table, calls = FakeApi(), FakeDelta(), {}, []
    bad_rows = ["r010", "r033", "r034"]
    source = PoisonSource(50, unnamed=bad_rows, unmappable=["r020"])
    summary, _ = run(source, load_sink(table, calls), delta, api)
    assert sorted(table) == sorted(f"r{i:03d}" for i in range(50) if f"r{i:03d}" not in [*bad_rows, "r020"])
    entries = stored(api)
    assert sorted(entries) == sorted([*bad_rows, "r020"])
    assert all(
        entries[k]["stage"] == "suppliers" and "supplier_name" in entries[k]["reason"] for k in bad_rows
    )
    assert "cannot map" in entries["r020"]["reason"] and entries["r010"]["cursor"] == format_cursor(at(10))
    assert summary.written == {"suppliers": 46} and delta.cursor == format_cursor(at(49))
    # 3 bad rows among 49: the splitting costs far fewer saves than one per row
    assert len(calls) - 1 <= 2 * 3 * 6, calls
    # fixed: retried first, saved, released
    source.fix()
    summary, _ = run(source, load_sink(table, calls), delta, api)
    assert stored(api) == {} and all(k in table for k in [*bad_rows, "r020"])
    assert summary.quarantine["released"] == 4


def test_fail_fast_load_sink_still_rejects_the_whole_batch() -> None:
    api, delta, table = FakeApi(), FakeDelta(), {}
    with pytest.raises(Exception, match="supplier_name"):
        run(PoisonSource(5, unnamed=["r002"]), load_sink(table), delta, api, fail_fast=True)
    assert table == {} and delta.cursor is None


def test_quarantine_write_must_succeed_before_the_cursor_moves() -> None:
    class BrokenPut(FakeApi):
        def put(self, path: str, data: Any = None, extra_headers: Any = None) -> Any:
            if DEFAULT_TABLE in path:
                raise RuntimeError("custom-data unavailable")
            return super().put(path, data, extra_headers)

    api, delta = BrokenPut(), FakeDelta(format_cursor(at(0)))
    with pytest.raises(RuntimeError, match="custom-data unavailable"):
        run(PoisonSource(10, poison=["r004"]), ListSink(), delta, api, settings={})
    assert delta.cursor == format_cursor(at(0))


def test_job_params_retry_some_and_discard() -> None:
    api, delta = FakeApi(), FakeDelta()
    source = PoisonSource(10, poison=["r001", "r002", "r003"])
    run(source, ListSink(), delta, api)
    calls = len(source.refetched)
    summary, _ = run(source, ListSink(), delta, api, params={"quarantine_retry": "none"})
    assert summary.quarantine["retried"] == 0 and len(source.refetched) == calls
    assert summary.quarantine["held"] == 3
    summary, _ = run(source, ListSink(), delta, api, params={"quarantine_retry": "r002"})
    assert [r.key for r in source.refetched[-1]] == ["r002"]
    summary, ctx = run(source, ListSink(), delta, api, params={"quarantine_discard": "r001,r003"})
    assert sorted(stored(api)) == ["r002"] and summary.quarantine["discarded"] == 2
    assert any("discarded 2" in r[1] for r in ctx.logger.records)
    run(source, ListSink(), delta, api, params={"quarantine_discard": "all"})
    assert stored(api) == {}


def test_source_without_refetch_releases_when_it_yields_the_key_again() -> None:
    api, delta, sink = FakeApi(), FakeDelta(), ListSink()
    source = RecordsSource(10, poison=["r004"])
    run(source, sink, delta, api)
    source.fix()
    source.rows["r004"] = at(20)  # the fix gives the record a newer cursor value
    summary, ctx = run(source, sink, delta, api)
    assert any("wait for the source" in r[1] for r in ctx.logger.records)
    assert summary.quarantine["released_keys"] == ["r004"] and stored(api) == {}


class DayArchiveSource(Source[Any]):
    """A Codat-like source: files per day, one archive per day, a refused member in a day.

    It shows how such a source yields a refusal: the member's ``RefusedItem`` carries the
    day as its refetch hint, because files have no id to fetch by; ``refetch`` re-reads
    each hinted day and yields all of it again (sinks are idempotent).
    """

    name = "files"
    ordering = Ordering.UNORDERED
    lookback = timedelta(0)

    def __init__(self, days: dict[str, list[str]], refused: set[str]) -> None:
        self.days = days
        self.refused = refused
        self.days_read: list[str] = []


    def read_day(self, day: str) -> Iterator[SourceItem]:
        self.days_read.append(day)
        when = datetime.fromisoformat(f"{day}T12:00:00+00:00")
        for name in self.days[day]:
            key = f"{day}/{name}"
            if name in self.refused:
                yield RefusedItem(
                    key,
                    when,
                    f"archive member {name!r}: path traversal ('../')",
                    stream=self.name,
                    refetch={"partition": day},
                )
            else:
                yield DocumentItem(key, when, name, "application/pdf", lambda: io.BytesIO(b"%PDF-1.4"))

    def fetch_since(self, cursor: datetime | None) -> Iterator[SourceItem]:
        for day in sorted(self.days):
            if cursor is None or datetime.fromisoformat(f"{day}T12:00:00+00:00") >= cursor:
                yield from self.read_day(day)

    def refetch(self, wanted: Sequence[Refetch]) -> Iterator[SourceItem]:
        for day in sorted({str(w.hint["partition"]) for w in wanted}):
            yield from self.read_day(day)


def test_refused_archive_member_does_not_block_its_day_or_later_days() -> None:
    api, delta = FakeApi(), FakeDelta()
    days = {"2026-01-05": ["a.pdf", "evil.pdf", "b.pdf"], "2026-01-06": ["c.pdf"]}
    source = DayArchiveSource(days, refused={"evil.pdf"})
    sink = DocumentSink(api, Ledger(api, namespace="acme.files"), settle=0)
    summary, _ = run(source, sink, delta, api)
    names = sorted(f["file_name"] for d in api.documents for f in d["files"])
    assert names == ["a.pdf", "b.pdf", "c.pdf"]
    assert stored(api)["2026-01-05/evil.pdf"]["refetch"] == {"partition": "2026-01-05"}
    assert delta.cursor == format_cursor(datetime.fromisoformat("2026-01-06T12:00:00+00:00"))
    source.refused.clear()  # Codat serves a clean archive now
    sink = DocumentSink(api, Ledger(api, namespace="acme.files"), settle=0)
    summary, _ = run(source, sink, delta, api)
    assert source.days_read[-2:] == ["2026-01-05", "2026-01-06"]  # the day re-read first, then the window
    names = sorted(f["file_name"] for d in api.documents for f in d["files"])
    assert names == ["a.pdf", "b.pdf", "c.pdf", "evil.pdf"]  # no duplicates, the member landed
    assert summary.quarantine["released_keys"] == ["2026-01-05/evil.pdf"] and stored(api) == {}


def test_download_refused_as_invalid_is_quarantined_and_the_rest_uploaded() -> None:
    class FilesSource(PoisonSource):
        def build(self, key: str) -> SourceItem:
            def opener() -> IO[bytes]:
                if key in self.poison:
                    failure = Failure(
                        FailureClass.INVALID, "download refused: 422 file is corrupt", status=422
                    )
                    raise AdapterError("connect.billing_batch_files", failure)
                return io.BytesIO(key.encode())

            return DocumentItem(key, self.rows[key], f"{key}.pdf", "application/pdf", opener)

    api, delta = FakeApi(), FakeDelta()
    source = FilesSource(5, poison=["r002"])
    sink = DocumentSink(api, Ledger(api, namespace="acme.docs"), settle=0)
    summary, _ = run(source, sink, delta, api)
    assert summary.quarantine["refused_keys"] == ["r002"]
    assert sorted(f["file_name"] for d in api.documents for f in d["files"]) == [
        "r000.pdf",
        "r001.pdf",
        "r003.pdf",
        "r004.pdf",
    ]
    assert "422" in stored(api)["r002"]["reason"] and stored(api)["r002"]["stage"] == "source_documents"
    assert delta.cursor == format_cursor(at(4))


def test_auth_failure_is_never_quarantined() -> None:
    class AuthSource(PoisonSource):
        def build(self, key: str) -> SourceItem:
            def opener() -> IO[bytes]:
                raise AdapterError("nuntiq", Failure(FailureClass.AUTH, "401 token expired", status=401))

            return DocumentItem(key, self.rows[key], f"{key}.pdf", "application/pdf", opener)

    api, delta = FakeApi(), FakeDelta()
    sink = DocumentSink(api, Ledger(api, namespace="acme.docs"), settle=0)
    with pytest.raises(AdapterError, match="auth"):
        run(AuthSource(3), sink, delta, api)
    assert stored(api) == {} and delta.cursor is None


def test_store_keys_are_scoped_and_long_keys_hashed() -> None:
    api = FakeApi()
    store = QuarantineStore(api, namespace="acme")
    long_key = "k" * 300
    assert store.row_key("s", long_key).startswith("acme/s/sha256:")
    with pytest.raises(ValueError, match="namespace"):
        QuarantineStore(api, namespace="a/b")
    ctx = FakeContext(api=api)
    quarantine = make_quarantine(ctx)
    quarantine.begin(stream="s", source="s")
    quarantine.refuse(long_key, cursor=None, reason="bad", stage="source", retrying=False)
    quarantine.flush(items_read=1)
    assert [e.key for e in store.entries("s")] == [long_key]
    assert list(QuarantineStore(api, namespace="other").entries()) == []


class ServerRejectingLoad(FakeLoad):
    """Nuntiq itself refuses (HTTP 400) any batch holding a row named ``reject-me``."""

    def save_all(self) -> int:
        self.calls.append(len(self.dirty))
        if any(e.get("name") == "reject-me" for e in self.dirty):
            self.dirty.clear()  # the request was sent and refused; nothing of it was written
            raise FakeApiError(400, '{"message": "supplier_name is reserved"}')
        for entity in self.dirty:
            self.table[entity["number"]] = dict(entity)
        count = len(self.dirty)
        self.dirty.clear()
        return count


def test_batch_nuntiq_rejects_as_invalid_is_split_and_only_the_bad_row_quarantined() -> None:
    class NamedSource(PoisonSource):
        def build(self, key: str) -> SourceItem:
            name = "reject-me" if key == "r007" else f"Supplier {key}"
            return RecordItem(key, self.rows[key], {"name": name}, stream=self.name)

    api, delta, table, calls = FakeApi(), FakeDelta(), {}, []
    ctx = FakeContext(api=api)
    sink: LoadSink[RecordItem] = LoadSink(
        ServerRejectingLoad(table, calls),
        map_row,
        name="suppliers",
        retrier=nuntiq_retrier(ctx),
        fresh_load=lambda: ServerRejectingLoad(table, calls),
    )
    summary, _ = run(NamedSource(16), sink, delta, api)
    assert sorted(table) == [f"r{i:03d}" for i in range(16) if i != 7]
    entry = stored(api)["r007"]
    assert entry["stage"] == "suppliers" and "reserved" in entry["reason"] and "400" in entry["reason"]
    assert summary.written == {"suppliers": 15} and delta.cursor == format_cursor(at(15))


def test_upload_nuntiq_rejects_as_invalid_is_quarantined() -> None:
    api, delta = FakeApi(), FakeDelta()
    api.fail_upload_before_create = [400]  # the first upload is refused as a bad request
    ctx = FakeContext(api=api)

    class Files(PoisonSource):
        def build(self, key: str) -> SourceItem:
            return DocumentItem(
                key, self.rows[key], f"{key}.pdf", "application/pdf", lambda: io.BytesIO(b"x")
            )

    sink = DocumentSink.for_context(ctx, namespace="acme.docs", settle=0)
    summary, _ = run(Files(3), sink, delta, api)
    assert summary.quarantine["refused_keys"] == ["r000"]
    assert stored(api)["r000"]["stage"] == "source_documents"
    assert sorted(f["file_name"] for d in api.documents for f in d["files"]) == ["r001.pdf", "r002.pdf"]
    summary, _ = run(Files(3), DocumentSink.for_context(ctx, namespace="acme.docs", settle=0), delta, api)
    assert summary.quarantine["released_keys"] == ["r000"] and stored(api) == {}
    assert sorted(f["file_name"] for d in api.documents for f in d["files"]) == [
        "r000.pdf",
        "r001.pdf",
        "r002.pdf",
    ]


def test_one_quarantine_serves_successive_streams() -> None:
    api = FakeApi()
    ctx = FakeContext(api=api)
    quarantine = make_quarantine(ctx)
    for stream, bad in (("files_a", "a1"), ("files_b", "b1")):

        class Stream(PoisonSource):
            name = stream

        source = Stream(3, poison=["r001"])
        summary = sync(
            ctx,
            source,
            ListSink(),
            connector_name=CONNECTOR,
            delta_run=FakeDelta(),
            lookback_days=None,
            quarantine=quarantine,
        )
        assert summary.quarantine["refused"] == 1 and summary.quarantine["held"] == 1, bad
    store = QuarantineStore(api, namespace=CONNECTOR)
    assert sorted(e.stream for e in store.entries()) == ["files_a", "files_b"]
