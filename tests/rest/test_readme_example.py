"""The README's "Writing a connector" example is real code: extract it, run it against the sandboxes."""

from __future__ import annotations

import re
import types
from pathlib import Path
from typing import Any

import pytest

from adapters.retry import Retrier, RetryPolicy
from lib.jobcontext import nuntiq_context
from sandbox.acme.app import DEFAULT_TOKEN
from sandbox.server import serve_in_thread
from tests.rest.conftest import ground_truth

README = Path(__file__).resolve().parents[2] / "README.md"


def readme_example() -> str:
    text = README.read_text(encoding="utf-8")
    section = text.split("## Writing a connector", 1)[1]
    match = re.search(r"```python\n(.*?)```", section, flags=re.S)
    assert match, "the section shows a python block"
    return match.group(1)


def test_the_readme_example_runs_and_config_retry_reaches_every_retrier(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    module = types.ModuleType("readme_example")
    exec(compile(readme_example(), str(README), "exec"), module.__dict__)
    built: list[RetryPolicy] = []
    original = Retrier.__init__

    def recording(self: Retrier, *args: Any, **kwargs: Any) -> None:
        original(self, *args, **kwargs)
        built.append(self.policy)

    monkeypatch.setattr(Retrier, "__init__", recording)
    retry = {"max_attempts": 4, "initial_wait": 0.001, "max_wait": 0.05, "max_total": 9}
    with serve_in_thread("nuntiq") as nuntiq, serve_in_thread("acme", count=90) as acme:
        acme.set_faults(script=[503, 429])
        settings = {
            "secrets": {"acme_token": DEFAULT_TOKEN},
            "config": {"connector_name": "readme_acme", "api_url": acme.url, "page_size": 25, "retry": retry},
        }
        context = nuntiq_context(nuntiq, settings=settings, params={"lookback_days": 3650})
        result = module.run(context)
        expected = {r["number"] for r in ground_truth(acme)["suppliers"]}
        stored = context.api.get("/v1/supplier", params={"limit": 200})["items"]
    assert {s["supplier_number"] for s in stored} == expected
    assert result["written"]["suppliers"] == len(expected)
    wanted = RetryPolicy(**retry).model_dump()
    assert len(built) >= 2 and all(policy.model_dump() == wanted for policy in built)
