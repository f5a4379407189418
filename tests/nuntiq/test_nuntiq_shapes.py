"""Nuntiq answers in every plausible shape: the parsers, the list loop and the document source.

The shapes are guesses (see the README's Nuntiq assumptions); each form the sandbox can
serve is read here on its own, and answers that fit none are refused with the
assumption, what was expected and what arrived.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from adapters.cursor import format_cursor
from adapters.nuntiq import NuntiqDocumentSource
from adapters.nuntiq.listing import MIN_LIMIT, PageLimit, iter_rows
from adapters.nuntiq.shapes import ShapeError, list_page, upload_answer, upsert_stamp
from adapters.retry import Retrier
from lib.jobcontext import nuntiq_context
from sandbox.nuntiq.variants import Variants
from sandbox.server import RunningServer

ROWS = [{"key": f"k{i:03d}", "value": i} for i in range(23)]
T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


class Refused(Exception):
    def __init__(self, status_code: int) -> None:
        super().__init__(f"API error {status_code}")
        self.status_code = status_code


# -- list answers ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "count", "by_cursor", "next_params"),
    [
        ({"items": ROWS[:2], "count": 23, "page": 1}, 23, False, None),
        (ROWS[:2], None, False, None),
        ({"data": ROWS[:2], "total": 23, "page": 1}, 23, False, None),
        ({"items": ROWS[:2], "next_cursor": "abc"}, None, True, {"cursor": "abc"}),
        ({"items": ROWS[:2], "next_cursor": None}, None, True, None),
        (
            {"results": ROWS[:2], "next": "/v1/custom-data/t?cursor=xyz&limit=2"},
            None,
            True,
            {
                "cursor": "xyz",
                "limit": "2",
            },
        ),
    ],
    ids=["items_count_page", "bare_list", "data_total", "next_cursor", "last_cursor_page", "next_url"],
)
def test_every_list_form_is_read(body: Any, count: int | None, by_cursor: bool, next_params: Any) -> None:
    page = list_page(body, "test list")
    assert [r["key"] for r in page.items] == ["k000", "k001"]
    assert (page.count, page.by_cursor, page.next_params) == (count, by_cursor, next_params)


@pytest.mark.parametrize("body", [{"message": "oops"}, "text", None, {"items": "not a list"}])
def test_an_answer_in_no_list_form_names_the_assumption_and_what_arrived(body: Any) -> None:
    with pytest.raises(ShapeError, match=r"test list: the answer is not a list .*assumed: .*got "):
        list_page(body, "test list")


def test_upsert_time_in_each_spelling_and_from_echoed_rows() -> None:
    assert upsert_stamp({"written": 1, "updated_at": "2026-03-01T12:00:00Z"}) == "2026-03-01T12:00:00Z"
    assert upsert_stamp({"written": 1, "updatedAt": "2026-03-01T12:00:00Z"}) == "2026-03-01T12:00:00Z"
    rows = {
        "rows": [
            {"key": "a", "updated_at": "2026-03-01T12:00:09+00:00"},
            {"key": "b", "updated_at": "2026-03-01T12:00:10.5Z"},  # later, though "1" < "9" as text
        ]
    }
    assert upsert_stamp(rows) == datetime(2026, 3, 1, 12, 0, 10, 500000, tzinfo=UTC)
    assert upsert_stamp({"written": 1}) is None
    assert upsert_stamp(None) is None


DOC = {"id": "d1", "created_at": "2026-03-01T12:00:00Z", "files": []}


@pytest.mark.parametrize(
    "body", [DOC, [DOC], {"document": DOC}, {"items": [DOC]}], ids=["document", "list", "wrapped", "items"]
)
def test_the_upload_answer_in_every_form_gives_the_document(body: Any) -> None:
    assert upload_answer(body)["id"] == "d1"


def test_an_upload_answer_with_two_documents_or_no_id_is_refused() -> None:
    with pytest.raises(ShapeError, match=r"one document per upload.*got 2"):
        upload_answer([DOC, {**DOC, "id": "d2"}])
    with pytest.raises(ShapeError, match=r"names no document id.*got \{'ok': True\}"):
        upload_answer({"ok": True})


# -- the list loop ---------------------------------------------------------------------


def cursor_server(rows: list[dict[str, Any]], cap: int) -> tuple[Callable[[dict[str, Any]], Any], list[Any]]:
    """Pages by an opaque cursor, ignores ``page``, serves at most ``cap`` rows."""
    asked: list[Any] = []

    def get(params: dict[str, Any]) -> Any:
        asked.append(dict(params))
        start = int(params.get("cursor", "0"))
        size = min(int(params["limit"]), cap)
        chunk = rows[start : start + size]
        end = start + len(chunk)
        return {"items": chunk, "next_cursor": str(end) if end < len(rows) else None}

    return get, asked


def test_a_cursor_list_is_followed_by_its_cursor_through_capped_pages() -> None:
    get, asked = cursor_server(ROWS, cap=4)
    keys = [r["key"] for r in iter_rows(get, {}, limit=10, describe="cursor list")]
    assert keys == [r["key"] for r in ROWS]
    assert len(asked) == 6  # 23 rows, 4 a page
    assert all("page" not in a for a in asked[1:])


def test_a_refused_limit_is_halved_once_and_remembered() -> None:
    asked: list[int] = []

    def get(params: dict[str, Any]) -> Any:
        limit = int(params["limit"])
        asked.append(limit)
        if limit > 60:
            raise Refused(400)
        page = int(params["page"])
        return {"items": ROWS[(page - 1) * limit : page * limit], "count": len(ROWS), "page": page}

    limit = PageLimit(200)
    assert len(list(iter_rows(get, {}, limit=limit, describe="capped"))) == 23
    assert asked == [200, 100, 50]
    asked.clear()
    assert len(list(iter_rows(get, {}, limit=limit, describe="capped"))) == 23
    assert asked == [50]  # the next list asks the size that worked


def test_a_refusal_at_the_smallest_size_or_for_another_reason_stands() -> None:
    def get(params: dict[str, Any]) -> Any:
        raise Refused(400)

    with pytest.raises(Refused):
        list(iter_rows(get, {}, limit=MIN_LIMIT, describe="refused"))

    def forbidden(params: dict[str, Any]) -> Any:
        raise Refused(403)

    with pytest.raises(Refused):
        list(iter_rows(forbidden, {}, limit=200, describe="forbidden"))


def test_rows_outside_an_ignored_key_prefix_are_dropped() -> None:
    rows = [{"key": f"{p}/{i}"} for p in ("lease", "ledger") for i in range(7)]

    def ignores_prefix(params: dict[str, Any]) -> Any:
        page, limit = int(params["page"]), int(params["limit"])
        return rows[(page - 1) * limit : page * limit]  # bare list, no count

    keys = [r["key"] for r in iter_rows(ignores_prefix, {"key_prefix": "ledger/"}, limit=3, describe="t")]
    assert keys == [f"ledger/{i}" for i in range(7)]


def test_a_server_that_ignores_the_page_number_is_refused_not_looped() -> None:
    def same_page(params: dict[str, Any]) -> Any:
        return {"items": ROWS[:5]}  # no count, no cursor, `page` ignored

    with pytest.raises(ShapeError, match=r"page 2 repeats the page before it .*assumed: "):
        list(iter_rows(same_page, {}, limit=5, describe="stuck list"))


# -- the document source against the sandbox, every filter and order -------------------------


@pytest.fixture(scope="module")
def nuntiq(nuntiq_server: RunningServer) -> RunningServer:
    """This module's tests share one Nuntiq service."""
    return nuntiq_server


def set_shapes(server: RunningServer, **shapes: str) -> None:
    with server.admin() as admin:
        current = admin.get("/_sandbox/nuntiq/variants").json()
        admin.put("/_sandbox/nuntiq/variants", json={**current, **shapes}).raise_for_status()


@pytest.mark.parametrize("order", ["created_asc", "created_desc"])
@pytest.mark.parametrize("created_after", ["exclusive", "inclusive", "ignored"])
@pytest.mark.parametrize("list_shape", ["items_count_page", "bare_list", "next_cursor"])
def test_documents_since_a_bound_come_oldest_first_once_whatever_the_listing(
    nuntiq: RunningServer, order: str, created_after: str, list_shape: str
) -> None:
    customer = f"4{abs(hash((order, created_after, list_shape))) % 10_000_000:07d}"
    context = nuntiq_context(nuntiq, settings={"customer_number": customer, "config": {}})
    set_shapes(nuntiq)
    created = []
    for i in range(9):
        files = [(f"doc{i}.pdf", f"d{i}".encode(), "application/pdf")]
        body = context.api.upload_source_documents(files=files)
        created.append(body["created_at"])
    bound = datetime.fromisoformat(created[4].replace("Z", "+00:00"))
    shapes = {"document_order": order, "created_after": created_after, "list_shape": list_shape}
    set_shapes(nuntiq, **shapes, page_cap="clamp_100")
    try:
        source = NuntiqDocumentSource(context.api, page_size=2, retrier=Retrier.direct())
        items = list(source.fetch_since(bound))
    finally:
        set_shapes(nuntiq, **Variants().shapes())
    assert [i.name for i in items] == [f"doc{i}.pdf" for i in range(4, 9)]
    assert [i.cursor for i in items] == sorted(i.cursor for i in items)


def test_a_listing_in_no_order_is_refused_naming_the_assumption() -> None:
    docs = [
        {"id": str(i), "created_at": format_cursor(T0 + timedelta(seconds=s)), "files": []}
        for i, s in enumerate([1, 2, 3, 0, 4])
    ]

    class Api:
        def get(self, path: str, params: Any = None, extra_headers: Any = None) -> Any:
            return docs

    with pytest.raises(ShapeError, match=r"listed after one created .*assumed: the listing is ordered"):
        list(NuntiqDocumentSource(Api(), retrier=Retrier.direct()).fetch_since(None))  # type: ignore[arg-type]


def test_rows_without_keys_are_never_taken_for_a_repeated_page() -> None:
    def keyless(params: dict[str, Any]) -> Any:
        page = int(params["page"])
        return {"items": [{"value": 1}] * 5 if page <= 2 else [], "count": 10, "page": page}

    assert len(list(iter_rows(keyless, {}, limit=5, describe="keyless"))) == 10
