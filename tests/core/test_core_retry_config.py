"""config.retry: one setting that shapes every retry a connector makes."""

from __future__ import annotations

import pytest
from core_fakes import FakeContext

from adapters.nuntiq.retrier import nuntiq_retrier
from adapters.retry import RetryPolicy
from adapters.sinks import LoadSink
from connectors import connect_pull_suppliers
from lib.jobcontext import nuntiq_context
from sandbox.server import serve_in_thread


def test_defaults_without_config() -> None:
    policy = RetryPolicy.from_context(FakeContext())
    assert policy.model_dump() == RetryPolicy().model_dump()
    left = policy.budget_left()  # the job's time budget caps every wait
    assert left is not None and 590 < left <= 600


def test_config_retry_sets_the_policy_of_every_for_context_helper() -> None:
    context = FakeContext(config={"retry": {"max_attempts": 2, "max_total": 30, "max_wait": 5}})
    policy = RetryPolicy.from_context(context)
    assert (policy.max_attempts, policy.max_total, policy.max_wait) == (2, 30, 5)
    assert nuntiq_retrier(context).policy == policy
    sink = LoadSink.for_context(context, object(), lambda item, load: None)  # type: ignore[arg-type]
    assert sink.retrier is not None and sink.retrier.policy == policy


@pytest.mark.parametrize(
    ("retry", "named"),
    [
        ({"max_atempts": 3}, "max_atempts"),
        ({"max_wait": 100, "max_total": 10}, "max_wait"),
        ({"jitter": 2}, "jitter"),
        ("fast", "config.retry must be an object"),
    ],
)
def test_bad_retry_settings_are_refused_naming_the_problem(retry: object, named: str) -> None:
    with pytest.raises(ValueError, match=r"config\.retry") as caught:
        RetryPolicy.from_context(FakeContext(config={"retry": retry}))
    assert named in str(caught.value)


def test_a_connector_refuses_bad_retry_settings_before_any_call() -> None:
    with serve_in_thread("nuntiq") as nuntiq, serve_in_thread("connect") as connect:
        settings = {
            "secrets": {"connect_api_key": "ApiKey SU-000-000-000:sandbox-connect-key"},
            "config": {
                "connector_name": "retry_config",
                "connect_endpoint": connect.url,
                "retry": {"max_attempts": 0},
            },
        }
        context = nuntiq_context(nuntiq, settings=settings)
        with pytest.raises(ValueError, match="max_attempts"):
            connect_pull_suppliers.run(context)
        assert connect.stats().get("requests", 0) == 0
        assert nuntiq.stats().get("requests", 0) == 0
