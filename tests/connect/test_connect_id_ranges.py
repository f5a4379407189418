"""``IdRange.split`` cuts a range into disjoint parts that together are exactly the range.

The parts' RQL is checked too, by the sandbox's RQL engine: a record matches exactly one
part's filter, whatever letters, digits, dashes and underscores ids are made of.
"""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from adapters.connect.ties import IdRange, fits_budget, unsafe_id
from sandbox.connect.seed import load_capabilities
from sandbox.connect.store import Collection, parse_query_string

#: the characters Connect ids are made of (``LST-123-456-789``, ``PR-1234-5678-001``) and more
ID_TEXT = st.text(
    alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_", min_size=1, max_size=8
)


def _matches(coll: Collection, part: IdRange) -> set[str]:
    text = str(part.rql())
    items, _ = coll.query(parse_query_string(text), limit=10_000)
    return {r["id"] for r in items}


@settings(max_examples=150, deadline=None)
@given(st.lists(ID_TEXT, min_size=1, max_size=40, unique=True), st.data())
def test_parts_are_disjoint_and_cover_the_range(ids: list[str], data: Any) -> None:
    coll = Collection("listings", load_capabilities()["/listings"])
    coll.put_many({"id": i, "updated": "2024-01-01T00:00:00Z"} for i in ids)
    # split twice: the root, then a random part again with the ids it holds
    parts = [(p, k) for p, k in IdRange().split(ids)]
    chosen, known = data.draw(st.sampled_from(parts))
    parts.remove((chosen, known))
    parts += chosen.split(known)
    owners: dict[str, list[IdRange]] = {i: [p for p, _ in parts if p.contains(i)] for i in ids}
    assert all(len(found) == 1 for found in owners.values()), owners
    for part, inherited in parts:
        assert inherited <= {i for i in ids if part.contains(i)}
        assert _matches(coll, part) == {i for i in ids if part.contains(i)}, str(part.rql())


def test_budget_and_unsafe_ids() -> None:
    assert fits_budget(["a" * 9] * 10, budget=100) and not fits_budget(["a" * 9] * 11, budget=100)
    assert unsafe_id("LST-1*") and unsafe_id("a,b") and not unsafe_id("LST-123-456")
