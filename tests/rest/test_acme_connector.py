"""The Acme connector end to end: Acme sandbox (four variants, faults) -> Nuntiq sandbox.

The recipe leaves open whether Acme orders its listing and whether ``updated_after`` is
inclusive; the connector must be right in all four combinations, with the recipe's
502/503/429 habits, capped pages and records updated while it pages.
"""

from __future__ import annotations

import io
from typing import Any

import pytest

from adapters.failures import AdapterError, FailureClass
from adapters.retry import Retrier, RetryPolicy
from connectors import acme_pull_suppliers
from lib.delta import get_delta_state, list_delta_runs
from lib.jobcontext import nuntiq_context, write_counters
from sandbox.acme.app import DEFAULT_TOKEN
from sandbox.server import RunningServer
from tests.rest.conftest import FAST_RETRY, ground_truth, set_quirks, touch

VARIANTS = [(ordered, inclusive) for ordered in (True, False) for inclusive in (True, False)]
VARIANT_IDS = [f"{'ordered' if o else 'unordered'}-{'inclusive' if i else 'exclusive'}" for o, i in VARIANTS]


def settings(acme: RunningServer, name: str, **config: Any) -> dict[str, Any]:
    return {
        "secrets": {"acme_token": DEFAULT_TOKEN},
        "config": {
            "connector_name": name, "api_url": acme.url, "page_size": 40, "retry": FAST_RETRY, **config
        },
    }


def run(nuntiq: RunningServer, acme: RunningServer, name: str, **config: Any) -> tuple[dict[str, Any], Any]:
    context = nuntiq_context(nuntiq, settings=settings(acme, name, **config), params={"lookback_days": 3650})
    return acme_pull_suppliers.run(context), context


def stored_suppliers(context: Any) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    for number in range(1, 100):
        page = context.api.get("/v1/supplier", params={"limit": 100, "page": number})["items"]
        found.update({s["supplier_number"]: s for s in page})
        if not page:
            return found
    raise AssertionError("more than 99 pages of suppliers")


@pytest.mark.parametrize(("ordered", "inclusive"), VARIANTS, ids=VARIANT_IDS)
def test_every_variant_with_faults_loads_everything_then_only_changes(
    ordered: bool, inclusive: bool, nuntiq: RunningServer, acme_factory: Any
) -> None:
    plan = {"error_rate": 0.25, "statuses": [502, 503, 429], "page_size_cap": 30, "seed": 7}
    acme = acme_factory(ordered=ordered, inclusive=inclusive, count=230, plan=plan)
    set_quirks(acme, moves={3: [0], 6: [0]})  # records updated while the first run pages
    name = f"acme_{int(ordered)}{int(inclusive)}"
    first, context = run(nuntiq, acme, name)
    truth = {r["number"]: r for r in ground_truth(acme)["suppliers"]}
    stored = stored_suppliers(context)
    assert set(stored) == set(truth)
    assert acme.stats().get("faults", 0) > 0, "faults were injected"
    second, context = run(nuntiq, acme, name)
    # a change made while run 1 paged may have been read only in its old version (unordered):
    # run 1's cursor stayed before it, so run 2 reads it; after run 2 every name is current
    assert second["written"]["suppliers"] <= 2
    stored = stored_suppliers(context)
    assert all(stored[n]["supplier_name"] == r["name"] for n, r in truth.items())
    changed = write_counters(nuntiq)["suppliers_changed"]
    idle, _ = run(nuntiq, acme, name)
    assert write_counters(nuntiq)["suppliers_changed"] == changed, "an idle run changes nothing"
    touched = touch(acme, first=3, rename=" (renamed)")
    again, context = run(nuntiq, acme, name)
    stored = stored_suppliers(context)
    for record in touched:
        assert stored[record["number"]]["supplier_name"] == record["name"]
    assert write_counters(nuntiq)["suppliers_changed"] == changed + 3
    state = get_delta_state(context.api, name, "suppliers")
    assert state is not None and state["cursor"] == again["cursor_after"]
    # changes seen mid-run hold the cursor at the run's start (server time), never past them
    cursors = [r["cursor_after"] for r in (first, second, idle, again)]
    assert cursors == sorted(cursors) and cursors[-1] <= touched[0]["updated_at"]


def test_boundary_record_is_kept_when_updated_after_is_exclusive(
    nuntiq: RunningServer, acme_factory: Any
) -> None:
    """A record stamped exactly at the stored cursor and written after the run that stored it
    (a late commit): an exclusive ``updated_after`` would hide it; the connector asks earlier."""
    acme = acme_factory(inclusive=False, count=60)
    first, context = run(nuntiq, acme, "acme_boundary")
    cursor = first["cursor_after"]
    late = {"number": "ACME-77777", "name": "Late Ltd", "active": True, "updated_at": cursor[:23] + "Z"}
    with acme.admin() as admin:
        admin.post("/_sandbox/acme/add", json={"records": [late]}).raise_for_status()
    again, context = run(nuntiq, acme, "acme_boundary")
    assert "ACME-77777" in stored_suppliers(context)
    assert again["cursor_before"] == cursor


def test_wrong_token_fails_fast_naming_the_secret_and_keeps_the_cursor(
    nuntiq: RunningServer, acme_factory: Any
) -> None:
    acme = acme_factory(token="the-real-token", count=10)
    log = io.StringIO()
    context = nuntiq_context(
        nuntiq, settings=settings(acme, "acme_auth"), params={"lookback_days": 3650}, log_stream=log
    )
    with pytest.raises(AdapterError) as caught:
        acme_pull_suppliers.run(context)
    assert caught.value.kind is FailureClass.AUTH and caught.value.attempts == 1
    assert "secrets.acme_token" in str(caught.value)
    assert DEFAULT_TOKEN not in str(caught.value) and DEFAULT_TOKEN not in log.getvalue()
    assert acme.stats()["requests"] == 1
    assert get_delta_state(context.api, "acme_auth", "suppliers") is None


def test_missing_secret_and_bad_retry_settings_are_refused_before_any_call(
    nuntiq: RunningServer, acme_factory: Any
) -> None:
    acme = acme_factory(count=10)
    no_token = settings(acme, "acme_refused")
    no_token["secrets"] = {}
    with pytest.raises(ValueError, match=r"secrets\.acme_token"):
        acme_pull_suppliers.run(nuntiq_context(nuntiq, settings=no_token))
    with pytest.raises(ValueError, match="max_attempts"):
        bad_retry = settings(acme, "x", retry={"max_attempts": 0})
        acme_pull_suppliers.run(nuntiq_context(nuntiq, settings=bad_retry))
    assert acme.stats().get("requests", 0) == 0


def test_a_bad_record_names_itself_and_nothing_is_committed(nuntiq: RunningServer, acme_factory: Any) -> None:
    acme = acme_factory(count=50)
    bad = {"number": "ACME-66666", "name": "No Time Ltd", "updated_at": "last tuesday"}
    with acme.admin() as admin:
        admin.post("/_sandbox/acme/add", json={"records": [bad]}).raise_for_status()
    with pytest.raises(Exception, match=r"ACME-66666.*updated_at.*last tuesday"):
        run(nuntiq, acme, "acme_bad")
    context = nuntiq_context(nuntiq, settings=settings(acme, "acme_bad"))
    assert get_delta_state(context.api, "acme_bad", "suppliers") is None


def test_persistent_503_gives_up_under_config_retry_and_keeps_the_cursor(
    nuntiq: RunningServer, acme_factory: Any
) -> None:
    acme = acme_factory(count=30, plan={"error_rate": 1.0, "statuses": [503]})
    with pytest.raises(AdapterError, match=r"gave up after 3 attempts"):
        run(nuntiq, acme, "acme_down", retry={**FAST_RETRY, "max_attempts": 3})
    assert acme.stats()["requests"] == 3
    assert write_counters(nuntiq).get("suppliers_written", 0) == 0


def test_config_retry_reaches_every_retrier_the_connector_builds(
    nuntiq: RunningServer, acme_factory: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    built: list[tuple[str, RetryPolicy]] = []
    original = Retrier.__init__

    def recording(self: Retrier, *args: Any, **kwargs: Any) -> None:
        original(self, *args, **kwargs)
        built.append((self.source, self.policy))

    monkeypatch.setattr(Retrier, "__init__", recording)
    acme = acme_factory(count=30)
    wanted = {"max_attempts": 3, "initial_wait": 0.002, "max_wait": 0.5, "max_total": 7}
    run(nuntiq, acme, "acme_policy", retry=wanted)
    assert {source for source, _ in built} >= {"suppliers", "nuntiq"}
    assert all(policy.model_dump() == RetryPolicy(**wanted).model_dump() for _, policy in built), built


def test_going_too_fast_is_waited_out_as_acme_asks(nuntiq: RunningServer, acme_factory: Any) -> None:
    """Acme's own 429s (five list requests a second), each with the Retry-After it computes."""
    acme = acme_factory(count=90, rate_per_second=5)
    retry = {"initial_wait": 0.001, "max_wait": 2, "max_total": 20, "max_attempts": 8}
    result, context = run(nuntiq, acme, "acme_fast", page_size=10, retry=retry)
    assert acme.stats().get("acme_rate_limited", 0) > 0
    assert result["written"]["suppliers"] == 90
    details = [r["detail"] for r in context.logger.records if r["level"] == "warn" and r["detail"]]
    waits = [d for d in details if d.get("status") == 429]
    assert waits and all(w["wait"] >= w["retry_after"] for w in waits)


def test_the_token_reaches_no_log_line_exception_or_delta_metadata(
    nuntiq: RunningServer, acme_factory: Any
) -> None:
    token = "acme-secret-" + "7f3a9c21d4"
    faults = {"error_rate": 0.3, "statuses": [401, 429, 502, 503], "retry_after": 0, "seed": 3}
    acme = acme_factory(token=token, count=60, plan=faults)
    log = io.StringIO()
    texts: list[str] = []
    for _ in range(4):
        config = settings(acme, "acme_secrets")
        config["secrets"] = {"acme_token": token}
        context = nuntiq_context(nuntiq, settings=config, params={"lookback_days": 3650}, log_stream=log)
        try:
            texts.append(repr(acme_pull_suppliers.run(context)))
        except Exception as exc:  # the 401s fail some runs: their text is scanned too
            texts.append(f"{exc!r} {exc.__cause__!r}")
    runs = list_delta_runs(context.api, "acme_secrets", "suppliers", limit=20)
    texts += [log.getvalue(), repr(runs), repr(get_delta_state(context.api, "acme_secrets", "suppliers"))]
    assert any("401" in t or "auth" in t for t in texts), "an auth failure was met"
    for text in texts:
        assert token not in text
