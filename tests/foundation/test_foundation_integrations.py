"""The per-integration plug-ins: every shipped connector has exactly one, and the tools use them."""

from __future__ import annotations

import re
from collections import Counter

import pytest

from lib.integrations import INTEGRATIONS, UnknownConnector, demo_connectors, integration_of
from lib.runner import REPO_ROOT, shipped_connectors


def test_every_shipped_connector_belongs_to_exactly_one_plug_in() -> None:
    claimed = Counter(name for integration in INTEGRATIONS for name in integration.connectors)
    assert sorted(claimed) == shipped_connectors()
    assert set(claimed.values()) == {1}


def test_every_shipped_connector_is_in_the_demo_with_an_existing_settings_fixture() -> None:
    entries = demo_connectors()
    assert sorted(e.name for e in entries) == shipped_connectors()
    for entry in entries:
        assert (REPO_ROOT / entry.settings).is_file(), entry.settings
        assert entry.between_runs is not None, f"{entry.name}: run 3 would have nothing new to pick up"


def test_an_unknown_connector_names_the_shipped_ones() -> None:
    with pytest.raises(UnknownConnector, match="acme_pull_suppliers"):
        integration_of("nope_pull_things")


def test_no_tool_tells_integrations_apart_by_connector_name_prefix() -> None:
    """The demo, check, discover and the proof harness ask the registry instead.

    (The plug-ins themselves may look at their own settings keys.)
    """
    prefix = re.compile(r"""(connector|name)\.startswith\(\s*["'](connect|codat|acme|sample)_?["']""")
    plug_ins = REPO_ROOT / "lib" / "integrations"
    tools = [p for p in sorted((REPO_ROOT / "lib").rglob("*.py")) if plug_ins not in p.parents]
    tools += sorted((REPO_ROOT / "tests" / "proof").glob("*.py"))
    offenders = [str(p.relative_to(REPO_ROOT)) for p in tools if prefix.search(p.read_text(encoding="utf-8"))]
    assert offenders == []


class _Target:
    def url(self, service: str) -> str:
        return f"http://127.0.0.1:1/{service}"

    def key(self, service: str) -> str:
        return f"key-for-{service}"


@pytest.mark.parametrize("entry", demo_connectors(), ids=lambda e: e.name)
def test_point_at_fills_in_the_services_the_plug_in_declares(entry) -> None:  # type: ignore[no-untyped-def]
    from lib.context import read_settings

    integration = integration_of(entry.name)
    settings = read_settings(REPO_ROOT / entry.settings)
    integration.point_at(settings, _Target())
    text = repr(settings)
    for service in integration.services:
        assert f"http://127.0.0.1:1/{service}" in text
        assert f"key-for-{service}" in settings["secrets"].values()
