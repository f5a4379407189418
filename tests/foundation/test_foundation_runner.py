"""Runner pieces the CLI and demo share: connector loading and ``sandbox:<service>`` references."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from lib.runner import ConnectorLoadError, Services, load_connector, resolve_sandbox_refs
from sandbox.server import RunningServer


def test_sandbox_refs_start_each_service_once_and_become_urls() -> None:
    started: list[tuple[str, dict[str, Any]]] = []
    stopped: list[str] = []

    def starter(name: str, **options: Any) -> RunningServer:
        started.append((name, options))
        return RunningServer(name, f"http://127.0.0.1:1{len(started)}", lambda: stopped.append(name))

    config = {
        "endpoint": "sandbox:connect",
        "nested": {"again": "sandbox:connect", "files": ["sandbox:codat", "sandbox:not-a-ref x"]},
        "plain": "https://example.invalid",
        "n": 3,
    }
    with Services(starter=starter, options={"codat": {"seed": 1}}) as services:
        resolved = resolve_sandbox_refs(config, services)
    assert resolved == {
        "endpoint": "http://127.0.0.1:11",
        "nested": {"again": "http://127.0.0.1:11", "files": ["http://127.0.0.1:12", "sandbox:not-a-ref x"]},
        "plain": "https://example.invalid",
        "n": 3,
    }
    assert started == [("connect", {}), ("codat", {"seed": 1})]
    assert sorted(stopped) == ["codat", "connect"]


def test_unknown_sandbox_service_is_a_clear_error() -> None:
    with (
        Services(starter=lambda name, **o: None) as services,
        pytest.raises(ValueError, match="unknown sandbox"),
    ):  # type: ignore[arg-type,return-value]
        resolve_sandbox_refs({"x": "sandbox:nope"}, services)


def test_load_connector_by_name_or_path(tmp_path: Path) -> None:
    assert load_connector("sample_pull_suppliers").__name__ == "connectors.sample_pull_suppliers"
    script = tmp_path / "mine.py"
    script.write_text("def run(context):\n    return 'ran'\n")
    assert load_connector(str(script)).run(None) == "ran"
    no_run = tmp_path / "norun.py"
    no_run.write_text("x = 1\n")
    with pytest.raises(ConnectorLoadError, match="no run"):
        load_connector(str(no_run))
    with pytest.raises(ConnectorLoadError, match="not found"):
        load_connector(str(tmp_path / "missing.py"))
