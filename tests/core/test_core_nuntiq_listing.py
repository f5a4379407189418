"""The Nuntiq list loop against servers that lie: no single signal ends a list."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from adapters.nuntiq.listing import iter_rows
from adapters.paging import PagingError, PagingGapError

ROWS = [{"key": f"k{i:03d}"} for i in range(23)]


def server(
    rows: list[dict[str, Any]],
    *,
    cap: int | None = None,
    count: Callable[[int], int | None] = lambda n: n,
    empty_once: set[int] | None = None,
    empty_always: set[int] | None = None,
) -> tuple[Callable[[dict[str, Any]], Any], list[int]]:
    """A page-number list; ``cap`` shortens pages, ``count`` says what total it claims."""
    asked: list[int] = []
    once = set(empty_once or ())

    def get(params: dict[str, Any]) -> Any:
        page, limit = int(params["page"]), int(params["limit"])
        asked.append(page)
        size = min(limit, cap) if cap else limit
        items = rows[(page - 1) * size : page * size]
        if page in once:
            once.discard(page)
            items = []
        if page in (empty_always or set()):
            items = []
        return {"items": items, "count": count(len(rows)), "page": page}

    return get, asked


def keys(get: Callable[[dict[str, Any]], Any], limit: int = 5) -> list[str]:
    return [r["key"] for r in iter_rows(get, {}, limit=limit, describe="test list")]


def test_an_honest_list_costs_no_extra_request() -> None:
    get, asked = server(ROWS)
    assert keys(get) == [r["key"] for r in ROWS]
    assert asked == [1, 2, 3, 4, 5]  # the short fifth page and the count agree


def test_a_capped_page_is_not_the_end() -> None:
    get, _ = server(ROWS, cap=3)  # every page short of the asked 5
    assert keys(get) == [r["key"] for r in ROWS]


def test_a_count_smaller_than_the_truth_is_not_the_end() -> None:
    get, _ = server(ROWS, count=lambda n: 7)
    assert keys(get) == [r["key"] for r in ROWS]


def test_no_count_reads_to_a_confirmed_empty_page() -> None:
    get, asked = server(ROWS, cap=4, count=lambda n: None)
    assert keys(get) == [r["key"] for r in ROWS]
    assert asked[-2:] == [asked[-1], asked[-1]]  # the empty page was asked twice


def test_an_empty_page_in_the_middle_is_read_past() -> None:
    get, _ = server(ROWS, empty_once={2})
    assert keys(get) == [r["key"] for r in ROWS]


def test_a_small_count_alone_does_not_end_a_list_of_full_pages() -> None:
    get, _ = server(ROWS, empty_once={2}, count=lambda n: 15)
    assert keys(get) == [r["key"] for r in ROWS]  # the hole at page 2 asked again, then past the count


def test_a_lasting_hole_is_refused_not_returned() -> None:
    get, _ = server(ROWS, empty_always={2})
    with pytest.raises(PagingGapError, match="page 2 stays empty while page 3 holds rows"):
        keys(get)


def test_a_count_larger_than_the_list_ends_at_a_confirmed_empty_page() -> None:
    get, _ = server(ROWS, count=lambda n: n + 50)
    assert keys(get) == [r["key"] for r in ROWS]


def test_an_answer_that_is_not_a_list_names_the_list() -> None:
    with pytest.raises(PagingError, match="test list: the answer is not a list in any form"):
        keys(lambda params: {"message": "oops"})
