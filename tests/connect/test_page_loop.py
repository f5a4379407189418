"""The generic page loop (``adapters.paging``) against lists that lie in each way.

A list of 23 items is served by offset; each test makes the server lie once: a total
smaller than the truth, pages capped below the asked size, an empty page in the middle
(once, or for good), and the loop must read every item or refuse loudly.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from adapters.paging import Page, PagingError, PagingGapError, iter_offset, iter_pages

TRUTH = list(range(23))


def server(
    *, total: int | None = len(TRUTH), cap: int | None = None, blank: Callable[[int, int], bool] | None = None
) -> tuple[Callable[[int, int], Page[int]], list[int]]:
    calls: list[int] = []

    def fetch(limit: int, offset: int) -> Page[int]:
        calls.append(offset)
        size = min(limit, cap) if cap else limit
        items = TRUTH[offset : offset + size]
        if blank is not None and blank(offset, len(calls)):
            items = []
        return Page(items, total=total, start=offset)

    return fetch, calls


def test_a_total_smaller_than_the_truth_does_not_stop_the_loop() -> None:
    fetch, _ = server(total=5)
    assert list(iter_offset(fetch, limit=4)) == TRUTH


def test_a_capped_page_is_not_the_end() -> None:
    fetch, calls = server(cap=3)
    assert list(iter_offset(fetch, limit=10)) == TRUTH
    assert calls[:3] == [0, 3, 6], "advances by what arrived"


def test_total_small_and_pages_capped_together() -> None:
    fetch, _ = server(total=4, cap=3)
    assert list(iter_offset(fetch, limit=10)) == TRUTH


def test_a_transient_empty_middle_page_is_asked_again() -> None:
    fetch, calls = server(blank=lambda offset, n: offset == 8 and n == 3)
    assert list(iter_offset(fetch, limit=4)) == TRUTH
    assert calls.count(8) == 2


def test_a_lasting_empty_middle_page_with_items_after_it_is_refused() -> None:
    fetch, _ = server(blank=lambda offset, n: offset == 8)
    with pytest.raises(PagingGapError, match="cannot be read"):
        list(iter_offset(fetch, limit=4))


def test_an_empty_page_with_a_too_large_total_ends_the_list() -> None:
    fetch, calls = server(total=1000)
    assert list(iter_offset(fetch, limit=5)) == TRUTH
    assert calls[-3:] == [23, 23, 28], "re-asked once, then looked past it"


def test_an_empty_page_is_believed_only_when_answered_twice() -> None:
    fetch, calls = server(total=None)
    assert list(iter_offset(fetch, limit=5)) == TRUTH
    assert calls[-2:] == [23, 23]


def test_a_transient_empty_page_with_a_too_small_total_is_read_past() -> None:
    fetch, _ = server(total=3, blank=lambda offset, n: offset == 8 and n == 3)
    assert list(iter_offset(fetch, limit=4)) == TRUTH


def test_a_continuation_token_list_ends_when_the_token_does() -> None:
    pages = {"a": (["x", "y"], "b"), "b": (["z"], None)}

    def fetch(token: str) -> Page[str]:
        return Page(pages[token][0])

    seen = [p.items for p in iter_pages(fetch, "a", lambda token, page: pages[token][1])]
    assert seen == [["x", "y"], ["z"]]


def test_a_position_that_does_not_move_is_an_error_not_a_loop() -> None:
    with pytest.raises(PagingError, match="did not move"):
        list(iter_pages(lambda p: Page([1]), 0, lambda p, page: p))


def test_max_items_bounds_a_list() -> None:
    fetch, _ = server()
    with pytest.raises(PagingError, match="longer than 10"):
        list(iter_offset(fetch, limit=5, max_items=10))
