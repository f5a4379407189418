"""lib.delta behaves as the package assumes the framework's does: its calls survive transient faults."""

from __future__ import annotations

from typing import Any

from lib.api_client import ApiError
from lib.delta import delta_run, get_delta_state, list_delta_runs
from tests.foundation.conftest import ContextFactory


class LosingApi:
    """Passes calls through; the first ``complete`` is processed, then its answer is lost."""

    def __init__(self, api: Any) -> None:
        self.api = api
        self.lost = 0

    def post(self, path: str, data: Any = None, extra_headers: Any = None) -> Any:
        answer = self.api.post(path, data=data)
        if path.endswith("/complete") and self.lost == 0:
            self.lost += 1
            raise ApiError(0, "", "connection reset by peer")
        return answer

    def __getattr__(self, name: str) -> Any:
        return getattr(self.api, name)


def test_completion_whose_answer_was_lost_is_recognised(make_context: ContextFactory) -> None:
    context = make_context()
    losing = LosingApi(context.api)
    context.api = losing  # type: ignore[assignment]
    with delta_run(context, "acme_eu", "suppliers") as run:
        run.set_new_cursor("2026-03-01T10:00:00Z")
    assert losing.lost == 1  # the answer was lost, yet delta_run did not fail
    state = get_delta_state(losing.api, "acme_eu", "suppliers")
    assert state is not None and state["cursor"] == "2026-03-01T10:00:00Z"
    assert [r["status"] for r in list_delta_runs(losing.api, "acme_eu", "suppliers")] == ["completed"]


def test_start_and_complete_retry_transient_faults(make_context: ContextFactory, nuntiq: Any) -> None:
    context = make_context()
    nuntiq.set_faults(script=[503, "drop"], path_pattern="^/v1/delta/runs")
    with delta_run(context, "acme_eu", "retried") as run:  # start: 503, then dropped, then ok
        run.set_new_cursor("2026-03-02T00:00:00Z")
    nuntiq.set_faults()
    state = get_delta_state(context.api, "acme_eu", "retried")
    assert state is not None and state["cursor"] == "2026-03-02T00:00:00Z"
