"""The Acme sandbox switches variant while running (the proof suites rotate it between rounds)."""

from __future__ import annotations

from typing import Any

from sandbox.server import RunningServer
from tests.rest.conftest import acme_get, ground_truth


def numbers(server: RunningServer, **params: Any) -> list[str]:
    return [r["number"] for r in acme_get(server, per_page=200, **params).raise_for_status().json()["data"]]


def test_switching_order_and_inclusiveness_takes_effect_at_once(acme_factory: Any) -> None:
    server = acme_factory(count=30, ordered=True, inclusive=True)
    rows = ground_truth(server)["suppliers"]
    by_time = [r["number"] for r in sorted(rows, key=lambda r: (r["updated_at"], r["number"]))]
    assert numbers(server) == by_time
    stamp = rows[0]["updated_at"]
    assert rows[0]["number"] in numbers(server, updated_after=stamp)
    with server.admin() as admin:
        answer = admin.put("/_sandbox/acme/variant", json={"ordered": False, "inclusive": False})
        assert answer.raise_for_status().json() == {"ordered": False, "inclusive": False}
    unordered = numbers(server)
    assert sorted(unordered) == sorted(by_time) and unordered != by_time
    assert rows[0]["number"] not in numbers(server, updated_after=stamp)
