"""What a plug-in declares (see :mod:`lib.integrations`)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from lib.runner import Services


@dataclass(frozen=True)
class StreamInfo:
    """One row of ``discover``: a stream and how it is read."""

    name: str
    kind: str
    key: str
    cursor_field: str
    ordering: str
    paging: str


@dataclass
class DemoEnv:
    """What a demo hook gets: a scratch directory, the running services, the settings."""

    workdir: Path
    services: Services
    settings: dict[str, Any]


@dataclass(frozen=True)
class DemoConnector:
    """One connector of the demo: run three times; run 2 sees no change, run 3 one change."""

    #: module name under connectors/
    name: str
    #: settings fixture, relative to the repository root
    settings: str
    #: seed the source before the first run; may return config overrides
    prepare: Callable[[DemoEnv], Mapping[str, Any] | None] | None = None
    #: change the source before the third run (so it has news; the second has none)
    between_runs: Callable[[DemoEnv], None] | None = None
    #: job params for every run
    params: Mapping[str, Any] = field(default_factory=dict)


class SandboxTarget(Protocol):
    """Where a proof environment's sandbox services are, and the credentials it made up."""

    def url(self, service: str) -> str: ...

    def key(self, service: str) -> str: ...


def _no_streams() -> list[StreamInfo]:
    return []


def _no_schema() -> dict[str, Any]:
    return {}


def _no_checks(context: Any) -> list[Any]:
    return []


def _leave(settings: dict[str, Any], target: SandboxTarget) -> None:
    return None


@dataclass(frozen=True)
class Integration:
    """One integration as the local tools see it."""

    name: str
    #: the connectors (module names under connectors/) it ships
    connectors: tuple[str, ...]
    #: the sandbox services its connectors talk to, besides Nuntiq
    services: tuple[str, ...] = ()
    demo: tuple[DemoConnector, ...] = ()
    #: ``discover``: its streams and its settings' JSON Schema (empty: not listed)
    streams: Callable[[], list[StreamInfo]] = _no_streams
    settings_schema: Callable[[], dict[str, Any]] = _no_schema
    #: ``check``: does a settings ``config`` belong to it, and the checks to run for it
    owns_config: Callable[[Mapping[str, Any]], bool] = lambda config: False
    checks: Callable[[Any], list[Any]] = _no_checks
    #: proof harness: point a connector's settings at the sandbox services and keys
    point_at: Callable[[dict[str, Any], SandboxTarget], None] = _leave
