"""Ties of any size: a property test over random tie groups, page caps and moves.

The server is the sandbox's own query engine (``sandbox.connect.store.Collection``,
RQL through ``py_rql`` with the spec's filters for ``/listings``), behind the scripted
client, so every filter the reader sends (``out``, ``like``, ``not``, ``eq`` on
``updated`` and ``created``) is evaluated as the sandbox evaluates it. Hypothesis draws
the records (a few shared ``updated`` / ``created`` values, ids of mixed shapes), the
page cap, the id budget (small, so tie groups of a few dozen records already need
splitting) and which records move (get a later ``updated``) after which request.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from connect.client import R
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from adapters.connect import classify_connect_error
from adapters.connect.paging import KeysetReader, PageSize
from adapters.retry import Retrier
from lib.jobcontext import FakeClock
from sandbox.connect.seed import load_capabilities
from sandbox.connect.store import Collection, parse_query_string
from tests.connect.connect_fakes import ScriptedClient

T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
IDS = st.one_of(
    st.from_regex(r"LST-[0-9]{3}-[0-9]{3}-[0-9]{3}", fullmatch=True),
    st.from_regex(r"LST-[0-9]{1,4}", fullmatch=True),
    st.from_regex(r"[A-Z]{2,3}-[0-9a-z]{1,6}", fullmatch=True),
)


def _ts(at: datetime) -> str:
    return at.strftime("%Y-%m-%dT%H:%M:%S.%f") + "Z"


class MovingServer:
    """Answers list calls from a Collection; after the Nth call, moves the scheduled records."""

    def __init__(self, records: list[dict[str, Any]], cap: int, moves: dict[int, list[str]]) -> None:
        self.coll = Collection("listings", load_capabilities()["/listings"])
        self.coll.put_many(records)
        self.cap = cap
        self.moves = moves
        self.calls = 0
        self.now = T0 + timedelta(days=1)
        self.moved: set[str] = set()
        self.longest_target = 0

    def __call__(self, url: str, params: dict[str, Any]) -> tuple[list[dict[str, Any]], str]:
        query = url.split("?", 1)[1] if "?" in url else ""
        self.longest_target = max(self.longest_target, len(url) + 30)
        parsed = parse_query_string(query)
        limit = min(int(params["limit"]), self.cap)
        items, total = self.coll.query(parsed, limit=limit)
        items = [dict(i) for i in items]
        self.calls += 1
        for key in self.moves.get(self.calls, []):
            if key in self.coll.records:
                self.now += timedelta(seconds=1)
                self.coll.put(dict(self.coll.records[key], updated=_ts(self.now)))
                self.moved.add(key)
        header = f"items 0-{len(items) - 1}/{total}" if items else "items 0-0/0"
        return items, header


@st.composite
def scenarios(draw: st.DrawFn) -> tuple[list[dict[str, Any]], int, int, dict[int, list[str]], int]:
    ids = draw(st.lists(IDS, min_size=1, max_size=160, unique=True))
    updated = [T0 + timedelta(seconds=s) for s in draw(st.lists(st.integers(0, 3), min_size=1, max_size=3))]
    created = [T0 - timedelta(days=d) for d in draw(st.lists(st.integers(0, 2), min_size=1, max_size=3))]
    records = [
        {
            "id": key,
            "updated": _ts(draw(st.sampled_from(updated))),
            "created": _ts(draw(st.sampled_from(created))),
        }
        for key in ids
    ]
    cap = draw(st.integers(1, 60))
    limit = draw(st.integers(1, 100))
    movers = draw(st.lists(st.sampled_from(ids), max_size=len(ids) // 5 + 1))
    moves: dict[int, list[str]] = {}
    for key in movers:
        moves.setdefault(draw(st.integers(1, 40)), []).append(key)
    budget = draw(st.sampled_from([40, 120, 400]))
    return records, cap, limit, moves, budget


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenarios())
def test_every_record_is_read_whatever_the_ties_caps_and_moves(
    scenario: tuple[list[dict[str, Any]], int, int, dict[int, list[str]], int],
) -> None:
    records, cap, limit, moves, budget = scenario
    server = MovingServer(records, cap, moves)
    clock = FakeClock()
    reader = KeysetReader(
        ScriptedClient(server),  # type: ignore[arg-type]
        Retrier(classify_connect_error, source="connect.test", sleep=clock.sleep, clock=clock.clock),
        "listings",
        order_fields=("updated", "created"),
        page_size=PageSize(limit, floor=1),
        step="test",
        tie_budget=budget,
    )
    seen = [r["id"] for r in reader.records(R())]
    assert set(seen) == {r["id"] for r in records}, "a record was never read"
    # bounded: every target fits, whatever the size of the tie groups
    assert server.longest_target <= 4096
    assert reader.longest_target <= budget + 1200
    # re-reads are bounded too: a record is read again only at a tie's edge or after moving
    assert len(seen) <= 2 * len(records) + 2 * len(server.moved) + 2


def tied_listings(count: int) -> list[dict[str, Any]]:
    """``count`` listings created and updated at one instant (a bulk import)."""
    return [
        {
            "id": f"LST-{i // 1000:03d}-{i % 1000:03d}-{(i * 7919) % 1000:03d}",
            "updated": _ts(T0),
            "created": _ts(T0),
        }
        for i in range(count)
    ]


def test_five_thousand_ties_split_into_short_requests() -> None:
    """One value for all: the first page's ties overflow, and id ranges read the rest
    (50,000 of them: ``make ties-connect``)."""
    records = tied_listings(5_000)
    server = MovingServer(records, cap=1000, moves={})
    clock = FakeClock()
    reader = KeysetReader(
        ScriptedClient(server),  # type: ignore[arg-type]
        Retrier(classify_connect_error, source="connect.test", sleep=clock.sleep, clock=clock.clock),
        "listings",
        order_fields=("updated", "created"),
        page_size=PageSize(1000),
        step="test",
    )
    seen = {r["id"] for r in reader.records(R())}
    assert len(seen) == 5_000
    assert server.longest_target <= 4096
