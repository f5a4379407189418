"""delta_run against the sandbox: complete moves the cursor, failure leaves it, crashes do not block."""

from __future__ import annotations

import pytest

from lib.api_client import ApiError
from lib.delta import delta_run, get_delta_state, list_delta_runs, reset_delta_state
from tests.foundation.conftest import SECRET, ContextFactory


def test_complete_stores_cursor_and_next_run_gets_it(make_context: ContextFactory) -> None:
    context = make_context()
    with delta_run(context, "acme_eu", "suppliers") as run:
        assert run.lower_bound_cursor is None
        run.set_new_cursor("2026-03-01T10:00:00Z")
        run.set_records_processed(7)
        run.set_metadata({"page_size": 50})
    with delta_run(context, "acme_eu", "suppliers") as run:
        assert run.lower_bound_cursor == "2026-03-01T10:00:00Z"
    # no new cursor set: the stored one stays
    state = get_delta_state(context.api, "acme_eu", "suppliers")
    assert state is not None and state["cursor"] == "2026-03-01T10:00:00Z"
    runs = list_delta_runs(context.api, "acme_eu", "suppliers")
    assert [r["status"] for r in runs] == ["completed", "completed"]
    assert runs[1]["records_processed"] == 7 and runs[1]["metadata"] == {"page_size": 50}


def test_failure_keeps_cursor_records_redacted_error_and_reraises(make_context: ContextFactory) -> None:
    context = make_context()
    with delta_run(context, "acme_eu", "suppliers") as run:
        run.set_new_cursor("2026-03-01T10:00:00Z")
    with pytest.raises(RuntimeError, match="boom"), delta_run(context, "acme_eu", "suppliers") as run:
        run.set_new_cursor("2026-04-01T00:00:00Z")
        run.set_metadata({"token": SECRET})
        raise RuntimeError(f"boom while calling with {SECRET}")
    state = get_delta_state(context.api, "acme_eu", "suppliers")
    assert state is not None and state["cursor"] == "2026-03-01T10:00:00Z"
    failed = list_delta_runs(context.api, "acme_eu", "suppliers")[0]
    assert failed["status"] == "failed"
    assert "boom while calling with ***" in failed["error"]
    assert SECRET not in str(failed)


def test_api_error_inside_run_fails_it(make_context: ContextFactory) -> None:
    context = make_context()
    with pytest.raises(ApiError), delta_run(context, "acme_eu", "docs") as run:
        run.set_new_cursor("2026-05-01T00:00:00Z")
        context.api.get("/v1/invoices/unknown")
    assert get_delta_state(context.api, "acme_eu", "docs") is None
    assert list_delta_runs(context.api, "acme_eu", "docs")[0]["error"].startswith("ApiError: API error 404")


def test_metadata_is_redacted(make_context: ContextFactory) -> None:
    context = make_context()
    with delta_run(context, "acme_eu", "suppliers") as run:
        run.set_new_cursor("2026-01-01T00:00:00Z")
        run.set_metadata({"url": f"https://x/?token={SECRET}"})
    stored = list_delta_runs(context.api, "acme_eu", "suppliers")[0]
    assert stored["metadata"] == {"url": "https://x/?token=***"}


def test_crashed_run_does_not_block_the_next(make_context: ContextFactory) -> None:
    context = make_context()
    api = context.api
    crashed = api.post("/v1/delta/runs", data={"connector_name": "acme_eu", "stream": "s"})
    with delta_run(context, "acme_eu", "s") as run:
        run.set_new_cursor("2026-02-02T00:00:00Z")
    runs = {r["run_id"]: r for r in list_delta_runs(api, "acme_eu", "s")}
    assert runs[crashed["run_id"]]["status"] == "abandoned"
    # the abandoned run's late completion cannot overwrite the newer cursor
    with pytest.raises(ApiError) as info:
        api.post(f"/v1/delta/runs/{crashed['run_id']}/complete", data={"new_cursor": "1999-01-01T00:00:00Z"})
    assert info.value.status_code == 409
    assert get_delta_state(api, "acme_eu", "s")["cursor"] == "2026-02-02T00:00:00Z"  # type: ignore[index]


def test_reset_forgets_the_cursor(make_context: ContextFactory) -> None:
    context = make_context()
    with delta_run(context, "acme_eu", "s") as run:
        run.set_new_cursor("2026-02-02T00:00:00Z")
    assert reset_delta_state(context.api, "acme_eu", "s") is True
    assert reset_delta_state(context.api, "acme_eu", "s") is False
    with delta_run(context, "acme_eu", "s") as run:
        assert run.lower_bound_cursor is None


def test_streams_are_independent(make_context: ContextFactory) -> None:
    context = make_context()
    with delta_run(context, "acme_eu", "a") as run:
        run.set_new_cursor("2026-01-01T00:00:00Z")
    with delta_run(context, "acme_us", "a") as run:
        assert run.lower_bound_cursor is None
    with delta_run(context, "acme_eu", "b") as run:
        assert run.lower_bound_cursor is None


def test_set_new_cursor_checks_its_input(make_context: ContextFactory) -> None:
    from datetime import UTC, datetime

    with delta_run(make_context(), "acme_eu", "s") as run:
        with pytest.raises(ValueError):
            run.set_new_cursor("")
        with pytest.raises(ValueError, match="time zone"):
            run.set_new_cursor(datetime(2026, 1, 1))
        run.set_new_cursor(datetime(2026, 1, 1, tzinfo=UTC))
        assert run.new_cursor == "2026-01-01T00:00:00Z"
