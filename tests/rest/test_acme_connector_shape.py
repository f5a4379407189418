"""The Acme connector stays small: at most 60 non-blank lines, no retry or paging code of its own."""

from __future__ import annotations

import ast
from pathlib import Path

SOURCE = Path(__file__).resolve().parents[2] / "connectors" / "acme_pull_suppliers.py"


def test_at_most_60_non_blank_lines() -> None:
    lines = [line for line in SOURCE.read_text(encoding="utf-8").splitlines() if line.strip()]
    assert len(lines) <= 60, len(lines)


def test_no_retry_loop_paging_loop_or_http_client_of_its_own() -> None:
    tree = ast.parse(SOURCE.read_text(encoding="utf-8"))
    froms = [node for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)]
    imports = [node for node in ast.walk(tree) if isinstance(node, ast.Import)]
    imported = {alias.name for node in froms for alias in node.names}
    modules = {node.module for node in froms} | {alias.name for node in imports for alias in node.names}
    assert not imported & {"Retrier", "RetryPolicy", "retry"}
    assert not modules & {"tenacity", "requests", "httpx", "adapters.retry", "time"}
    assert not [node for node in ast.walk(tree) if isinstance(node, ast.While)]
    called = {
        node.func.attr
        for node in ast.walk(tree)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
    }
    assert "call" not in called and "sleep" not in called
