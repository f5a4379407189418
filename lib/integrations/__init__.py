"""One small plug-in per integration: what the local tools need to know about it.

The demo (:mod:`lib.cli.demo`), ``check`` (:mod:`lib.cli.check`), ``discover``
(:mod:`lib.cli.catalog`) and the proof harness (:mod:`tests.proof.env`) used to tell the
integrations apart by connector-name prefixes. Each now asks the registry instead: a new
integration adds one module here and one line to :data:`INTEGRATIONS`, and every tool
picks it up. Nothing in the package (``adapters/``) depends on this; it is local tooling.
"""

from __future__ import annotations

from lib.integrations import acme, codat, connect, sample
from lib.integrations.base import DemoConnector, DemoEnv, Integration, SandboxTarget, StreamInfo

#: every integration the repository ships, in the order the demo runs them
INTEGRATIONS: tuple[Integration, ...] = (
    sample.INTEGRATION,
    connect.INTEGRATION,
    codat.INTEGRATION,
    acme.INTEGRATION,
)


class UnknownConnector(LookupError):
    """A connector no plug-in claims."""


def integration_of(connector: str) -> Integration:
    """The plug-in whose connectors include ``connector``."""
    for integration in INTEGRATIONS:
        if connector in integration.connectors:
            return integration
    shipped = ", ".join(name for i in INTEGRATIONS for name in i.connectors)
    raise UnknownConnector(f"no integration plug-in ships connector {connector!r} (shipped: {shipped})")


def demo_connectors() -> list[DemoConnector]:
    """Every plug-in's demo entries, in registry order."""
    return [entry for integration in INTEGRATIONS for entry in integration.demo]


__all__ = [
    "INTEGRATIONS",
    "DemoConnector",
    "DemoEnv",
    "Integration",
    "SandboxTarget",
    "StreamInfo",
    "UnknownConnector",
    "demo_connectors",
    "integration_of",
]
