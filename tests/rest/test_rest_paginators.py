"""Each paginator of the REST kit, end to end against an Acme variant that pages that way.

Every stream below is declared in a few lines, as a user of the kit would. Each run meets
a server that caps its pages below what was asked (short pages that are not the end) and
records that are updated while the listing is read, which moves them to the end of an
update-time ordering: nothing may be lost.
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from adapters.failures import FailureClass
from adapters.protocol import Ordering
from adapters.rest import (
    BearerToken,
    Keyset,
    LinkHeader,
    NextToken,
    NextUrl,
    Offset,
    PageNumber,
    RestSource,
    RestStream,
    UnstableListing,
)
from adapters.rest.paging import Paginator
from sandbox.acme.store import parse_stamp, stamp
from tests.rest.conftest import FAST_RETRY, KitContext, ground_truth, set_quirks

PAGINATORS: dict[str, Paginator] = {
    "page": PageNumber(size=40, next_field="next_page"),
    "offset": Offset(size=40, total_field="total"),
    "token": NextToken(token_field="next_cursor", token_param="cursor", size=40),
    "next_url": NextUrl(url_field="next", size=40),
    "link": LinkHeader(size=40),
    "keyset": Keyset(cursor_param="updated_since", key_param="after_number", size=40),
}


def suppliers(style: str) -> RestStream:
    """The whole declaration of an Acme-like supplier listing for one paging style."""
    return RestStream(
        name="suppliers",
        path="suppliers",
        records_path="data",
        key_field="number",
        cursor_field="updated_at",
        since_param=None if style == "keyset" else "updated_after",
        auth=BearerToken("acme_token"),
        paginator=PAGINATORS[style],
    )


def read(server: Any, style: str, since: datetime | None = None) -> tuple[list[Any], RestSource]:
    context = KitContext(config={"retry": FAST_RETRY})
    with RestSource.for_context(context, suppliers(style), base_url=server.url) as source:
        return list(source.fetch_since(since)), source


#: keyset paging is defined by its order, so it has no unordered variant
CASES = [(style, ordered) for style in sorted(PAGINATORS) if style != "keyset" for ordered in (True, False)]


@pytest.mark.parametrize(("style", "ordered"), [*CASES, ("keyset", True)])
def test_nothing_is_lost_under_a_page_cap_and_records_moving_mid_run(
    style: str, ordered: bool, acme_factory: Any
) -> None:
    server = acme_factory(paging=style, ordered=ordered, count=230, plan={"page_size_cap": 25})
    set_quirks(server, moves={2: [0], 5: [0]})
    before = {r["number"] for r in ground_truth(server)["suppliers"]}
    items, source = read(server, style)
    truth = ground_truth(server)
    assert truth["moves"] == 2, "two records were moved while the listing was read"
    assert {i.key for i in items} == before
    moved = [r for r in truth["suppliers"] if r["name"].endswith("(moved)")]
    assert sum(r["name"].count("(moved)") for r in moved) == 2
    assert source.pages_read > 230 // 40, "pages were capped at 25, so more than 6 pages were read"
    if style == "keyset":
        assert source.ordering is Ordering.CURSOR_ORDERED
        cursors = [i.cursor for i in items]
        assert cursors == sorted(cursors)  # type: ignore[type-var]
        # a moved record is read again in its new place: the newest version arrives
        latest = {i.key: i.payload for i in items}
        assert all(latest[r["number"]]["name"] == r["name"] for r in moved)
    else:
        assert source.ordering is Ordering.UNORDERED


@pytest.mark.parametrize("style", ["page", "offset", "token"])
def test_position_paging_reads_a_shifted_listing_again(style: str, acme_factory: Any) -> None:
    """Ordered by update time, a record moved from page 1 to the end pushes another one
    back over the page boundary: the pass sees the moved key twice and reads again."""
    server = acme_factory(paging=style, ordered=True, count=120)
    set_quirks(server, moves={1: [0]})
    before = {r["number"] for r in ground_truth(server)["suppliers"]}
    items, source = read(server, style)
    assert {i.key for i in items} == before
    assert source.passes_read == 2
    keys = [i.key for i in items]
    assert len(keys) == len(before) + 1, "only the moved record's new version is delivered twice"


def test_since_bound_is_kept_whether_the_api_bound_is_inclusive_or_not(acme_factory: Any) -> None:
    for inclusive in (True, False):
        server = acme_factory(paging="page", inclusive=inclusive, count=150)
        rows = ground_truth(server)["suppliers"]
        since = sorted(parse_stamp(r["updated_at"]) for r in rows)[75]
        expected = {r["number"] for r in rows if parse_stamp(r["updated_at"]) >= since}
        items, _ = read(server, "page", since)
        assert {i.key for i in items} == expected, f"inclusive={inclusive}"
        assert all(i.cursor is not None and i.cursor >= since for i in items)


def test_a_change_seen_mid_pass_cannot_carry_the_watermark_past_a_change_missed(acme_factory: Any) -> None:
    """Unordered listing: record A (page 1, already read) changes, then record B (last page,
    not yet read) changes. B arrives in its new version; A's change is not seen in this run.
    B's cursor is held at the pass start, so the next run, starting from the watermark,
    still reads A's change."""
    server = acme_factory(paging="page", ordered=False, count=120)
    set_quirks(server, moves={1: [0], 2: [-1]})
    items, _ = read(server, "page")
    truth = {r["number"]: r for r in ground_truth(server)["suppliers"]}
    moved = [r for r in truth.values() if r["name"].endswith("(moved)")]
    missed, seen = sorted(moved, key=lambda r: r["updated_at"])
    delivered = {i.key: i for i in items}
    assert delivered[seen["number"]].payload["name"] == seen["name"]
    assert delivered[missed["number"]].payload["name"] != missed["name"]
    watermark = max(i.cursor for i in items if i.cursor is not None)
    assert watermark <= parse_stamp(missed["updated_at"]) < parse_stamp(seen["updated_at"])
    again, _ = read(server, "page", watermark)
    assert missed["number"] in {i.key for i in again}


def test_a_listing_that_keeps_shifting_fails_the_run_instead_of_guessing(acme_factory: Any) -> None:
    server = acme_factory(paging="page", ordered=True, count=120)
    set_quirks(server, moves={n: [0] for n in range(1, 40)})
    context = KitContext(config={"retry": FAST_RETRY})
    stream = dataclasses.replace(suppliers("page"), max_passes=2)
    source = RestSource.for_context(context, stream, base_url=server.url)
    with source, pytest.raises(UnstableListing, match="shifted during each of 2 passes") as caught:
        list(source.fetch_since(None))
    assert caught.value.failure().kind is FailureClass.TRANSIENT
    assert source.passes_read == 2


def test_a_record_stamped_in_the_future_cannot_push_the_watermark_past_server_time(acme_factory: Any) -> None:
    """A writer whose clock runs an hour ahead: the record arrives, the watermark stays at the
    server's time, so records written meanwhile with correct stamps are still read next run."""
    server = acme_factory(paging="page", ordered=False, count=30)
    in_an_hour = stamp(datetime.now(UTC) + timedelta(hours=1))
    ahead = {"number": "ACME-FUTURE", "name": "Ahead", "updated_at": in_an_hour}
    with server.admin() as admin:
        admin.post("/_sandbox/acme/add", json={"records": [ahead]}).raise_for_status()
    items, _ = read(server, "page")
    future = next(i for i in items if i.key == "ACME-FUTURE")
    assert future.cursor is not None and future.cursor <= datetime.now(UTC)
    assert future.payload["updated_at"] == ahead["updated_at"]
