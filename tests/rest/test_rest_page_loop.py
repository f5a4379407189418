"""The kit's page loop against servers that lie: totals, end markers, empty pages, ignored
parameters, ties larger than a page, broken bodies, rate limits with Retry-After."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from adapters.failures import AdapterError, FailureClass
from adapters.http_status import DEFAULT_STATUS_TABLE
from adapters.rest import (
    ApiKeyHeader,
    BasicAuth,
    BearerToken,
    Keyset,
    Offset,
    PageNumber,
    RestPageError,
    RestSource,
    RestStream,
)
from adapters.rest.errors import make_rest_classifier
from adapters.rest.paging import Paginator
from adapters.retry import Retrier
from lib.jobcontext import FakeClock
from sandbox.acme.app import DEFAULT_TOKEN
from tests.rest.conftest import FAST_RETRY, KitContext, ground_truth, set_quirks


def stream(paginator: Paginator, **options: Any) -> RestStream:
    keyset = paginator.walks_cursor
    return RestStream(
        name="suppliers",
        path="suppliers",
        records_path="data",
        key_field="number",
        since_param=None if keyset else "updated_after",
        auth=BearerToken("acme_token"),
        paginator=paginator,
        **options,
    )


def read_all(server: Any, paginator: Paginator, **options: Any) -> tuple[list[Any], RestSource]:
    context = KitContext(config={"retry": FAST_RETRY})
    with RestSource.for_context(context, stream(paginator, **options), base_url=server.url) as source:
        return list(source.fetch_since(None)), source


def all_numbers(server: Any) -> set[str]:
    return {r["number"] for r in ground_truth(server)["suppliers"]}


@pytest.mark.parametrize("lie", [-60, +100], ids=["total-too-small", "total-too-large"])
def test_a_lying_total_loses_nothing(lie: int, acme_factory: Any) -> None:
    server = acme_factory(paging="offset", count=130)
    set_quirks(server, total_offset=lie)
    items, _ = read_all(server, Offset(size=25, total_field="total"))
    assert {i.key for i in items} == all_numbers(server)


def test_next_page_null_on_a_full_page_is_checked_with_a_probe(acme_factory: Any) -> None:
    server = acme_factory(paging="page", count=130)
    set_quirks(server, wrong_next_page=True)
    items, source = read_all(server, PageNumber(size=25, next_field="next_page"))
    assert {i.key for i in items} == all_numbers(server)
    assert source.pages_read == 7  # 6 pages with data, one empty page confirming the end


def test_an_empty_middle_page_does_not_end_the_listing(acme_factory: Any) -> None:
    server = acme_factory(paging="page", count=130)
    set_quirks(server, empty_pages=[2])
    listing = sorted(ground_truth(server)["suppliers"], key=lambda r: (r["updated_at"], r["number"]))
    hidden = {r["number"] for r in listing[25:50]}  # what the server left out of page 2
    items, _ = read_all(server, PageNumber(size=25, next_field="next_page"))
    assert {i.key for i in items} == all_numbers(server) - hidden


def test_without_an_end_marker_the_first_empty_page_ends_the_listing(acme_factory: Any) -> None:
    server = acme_factory(paging="page", count=60)
    items, source = read_all(server, PageNumber(size=25, next_field=None))
    assert {i.key for i in items} == all_numbers(server)
    assert source.pages_read == 4


def test_a_server_that_ignores_the_page_parameter_is_refused(acme_factory: Any) -> None:
    server = acme_factory(paging="page", count=60)
    with pytest.raises(RestPageError, match="same records as the one before"):
        read_all(server, PageNumber(page_param="pg", size=25, next_field=None))


def _add_tie(server: Any, count: int) -> None:
    stamp = "2026-03-03T03:03:03.000Z"
    records = [{"number": f"TIE-{n:03d}", "name": f"Tie {n}", "updated_at": stamp} for n in range(count)]
    with server.admin() as admin:
        admin.post("/_sandbox/acme/add", json={"records": records}).raise_for_status()


def test_keyset_steps_through_a_tie_group_larger_than_a_page_with_a_key_parameter(acme_factory: Any) -> None:
    server = acme_factory(paging="keyset", count=40)
    _add_tie(server, 23)
    items, _ = read_all(server, Keyset(cursor_param="updated_since", key_param="after_number", size=5))
    assert [i.key for i in items].count("TIE-000") == 1
    assert {i.key for i in items} == all_numbers(server)


def test_keyset_without_a_key_parameter_says_why_it_cannot_pass_a_large_tie(acme_factory: Any) -> None:
    server = acme_factory(paging="keyset", count=40)
    _add_tie(server, 12)
    with pytest.raises(RestPageError, match="share one cursor value"):
        read_all(server, Keyset(cursor_param="updated_since", size=5))
    items, _ = read_all(server, Keyset(cursor_param="updated_since", size=50))
    assert {i.key for i in items} == all_numbers(server)


def test_a_keyset_server_that_does_not_sort_is_refused(acme_factory: Any) -> None:
    server = acme_factory(paging="page", ordered=False, count=40)  # ignores keyset parameters
    with pytest.raises(RestPageError, match="not ordered by 'updated_at'"):
        read_all(server, Keyset(cursor_param="updated_since", size=50))


def test_retry_after_is_honoured_without_real_sleep(acme_factory: Any) -> None:
    server = acme_factory(paging="page", count=60, plan={"script": [429, 503, "drop"], "retry_after": 4})
    clock = FakeClock()
    declared = stream(PageNumber(size=25, next_field="next_page"))
    classify = make_rest_classifier("suppliers", DEFAULT_STATUS_TABLE, declared.auth.hint)
    retrier = Retrier(classify, source="suppliers", sleep=clock.sleep, clock=clock.clock)
    client = httpx.Client(base_url=server.url, auth=declared.auth.build(KitContext()))
    with RestSource(declared, client, retrier) as source:
        items = list(source.fetch_since(None))
    assert {i.key for i in items} == all_numbers(server)
    assert len(clock.sleeps) == 3 and clock.sleeps[0] >= 4 and clock.sleeps[1] >= 4


def test_a_broken_body_fails_naming_the_page_and_is_not_retried(acme_factory: Any) -> None:
    server = acme_factory(paging="page", count=60, plan={"script": ["pass", "malformed"]})
    with pytest.raises(RestPageError, match=r"page page=2&per_page=25 is not valid JSON"):
        read_all(server, PageNumber(size=25, next_field="next_page"))
    assert server.stats()["requests"] == 2


@pytest.mark.parametrize("status", [400, 404, 422])
def test_client_errors_are_not_retried(status: int, acme_factory: Any) -> None:
    server = acme_factory(paging="page", count=10, plan={"script": [status]})
    with pytest.raises(AdapterError) as caught:
        read_all(server, PageNumber(size=25, next_field="next_page"))
    assert caught.value.failure.status == status and caught.value.attempts == 1
    assert caught.value.kind in (FailureClass.INVALID, FailureClass.NOT_FOUND)


def test_a_stream_override_changes_one_status(acme_factory: Any) -> None:
    server = acme_factory(paging="page", count=10, plan={"script": [409]})
    items, _ = read_all(
        server, PageNumber(size=25, next_field="next_page"), status_overrides={409: FailureClass.TRANSIENT}
    )
    assert len(items) == 10


def test_auth_kinds_set_their_header_and_never_show_the_secret() -> None:
    context = KitContext(secrets={"user": "ada", "password": "s3cret-pass", "key": "k3y-value"})
    request = httpx.Request("GET", "http://127.0.0.1/x")
    basic = BasicAuth("user", "password").build(context)
    signed = next(basic.auth_flow(request))
    assert signed.headers["Authorization"] == "Basic " + "YWRhOnMzY3JldC1wYXNz"
    keyed = next(ApiKeyHeader("key", header="X-Api-Key", prefix="Key ").build(context).auth_flow(request))
    assert keyed.headers["X-Api-Key"] == "Key k3y-value"
    assert "s3cret" not in repr(basic) and "k3y" not in repr(ApiKeyHeader("key").build(context))
    with pytest.raises(ValueError, match=r"secrets\.missing is required"):
        BearerToken("missing").build(context)
    assert DEFAULT_TOKEN not in BearerToken("acme_token").hint
