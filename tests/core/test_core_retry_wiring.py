"""``config.retry`` reaches every retrier of every shipped connector, and no connector builds its own.

Each connector of the demo table runs once against the sandbox with a distinctive
``config.retry``; every :class:`~adapters.retry.Retrier` built during the run is recorded.
All of them must carry exactly that policy: a retrier built with defaults (or the null
``Retrier.direct()``) anywhere on a connector's path would show up here.
"""

from __future__ import annotations

import ast
import io
import tempfile
from pathlib import Path
from typing import Any

import pytest

from adapters.failures import AdapterError
from adapters.retry import Retrier, RetryPolicy
from lib.cli.demo import DEMO_CONNECTORS, DemoEnv
from lib.context import read_settings
from lib.runner import REPO_ROOT, Services, issue_token, resolve_sandbox_refs, run_connector
from sandbox.server import serve_in_thread

RETRY = {"max_attempts": 5, "initial_wait": 0.002, "multiplier": 1.5, "max_wait": 0.04, "max_total": 7.5}
CONNECTORS = sorted(path.stem for path in (REPO_ROOT / "connectors").glob("*.py") if path.stem != "__init__")


def test_the_demo_table_covers_every_shipped_connector() -> None:
    assert sorted(entry.name for entry in DEMO_CONNECTORS) == CONNECTORS


@pytest.mark.parametrize("entry", DEMO_CONNECTORS, ids=lambda entry: entry.name)
def test_config_retry_reaches_every_retrier_the_connector_builds(
    entry: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    built: list[tuple[str, dict[str, Any]]] = []
    original = Retrier.__init__

    def recording(self: Retrier, *args: Any, **kwargs: Any) -> None:
        original(self, *args, **kwargs)
        built.append((self.source, self.policy.model_dump()))

    monkeypatch.setattr(Retrier, "__init__", recording)
    with (
        tempfile.TemporaryDirectory(prefix="retry-wiring-") as tmp,
        Services(starter=serve_in_thread) as services,
    ):
        nuntiq = serve_in_thread("nuntiq", db_path=str(Path(tmp) / "nuntiq.sqlite3"))
        services.add("nuntiq", nuntiq)
        settings = read_settings(REPO_ROOT / entry.settings)
        if entry.prepare is not None:
            settings["config"].update(entry.prepare(DemoEnv(Path(tmp), services, settings)) or {})
        settings["config"]["retry"] = RETRY
        settings["config"] = resolve_sandbox_refs(settings["config"], services)
        token = issue_token(nuntiq.url, settings["customer_number"])
        report = run_connector(
            entry.name, settings, api_url=nuntiq.url, job_token=token,
            params=dict(entry.params), log_stream=io.StringIO(),
        )  # fmt: skip
    assert report.ok, report.error
    assert built, "the connector built no retrier at all"
    wanted = RetryPolicy(**RETRY).model_dump()
    wrong = [(source, policy) for source, policy in built if policy != wanted]
    assert wrong == []
    assert any(source == "nuntiq" for source, _ in built)  # its writes to Nuntiq are retried too


@pytest.mark.parametrize("name", CONNECTORS)
def test_no_connector_builds_a_retrier_or_calls_one(name: str) -> None:
    """Connectors get retries only through ``for_context``: no ``Retrier(...)``, ``.call(...)``, policy."""
    tree = ast.parse((REPO_ROOT / "connectors" / f"{name}.py").read_text(encoding="utf-8"))
    names = {node.id for node in ast.walk(tree) if isinstance(node, ast.Name)}
    attributes = {node.attr for node in ast.walk(tree) if isinstance(node, ast.Attribute)}
    assert not names & {"Retrier", "RetryPolicy", "nuntiq_retrier", "codat_retrier"}
    assert "call" not in attributes


def test_the_null_retrier_calls_once_never_waits_and_passes_errors_through() -> None:
    retrier = Retrier.direct()
    calls: list[int] = []

    def flaky() -> int:
        calls.append(1)
        raise TimeoutError("the service went away")

    with pytest.raises(TimeoutError, match="went away"):
        retrier.call(flaky, step="probe")
    assert calls == [1] and retrier.policy.max_attempts == 1
    assert retrier.call(lambda: 42, step="probe") == 42
    assert not isinstance(TimeoutError(), AdapterError)  # passed through, not wrapped


def test_for_context_refuses_bad_retry_settings_before_any_call() -> None:
    class Context:
        logger = None

        @staticmethod
        def get_config(key: str, default: Any = None) -> Any:
            return {"retry": {"max_attempts": 0}}.get(key, default)

    with pytest.raises(ValueError, match=r"config\.retry.*max_attempts"):
        Retrier.for_context(Context(), lambda exc: None, source="x")  # type: ignore[arg-type]
