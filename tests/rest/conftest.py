"""Fixtures for the REST kit and Acme tests: Acme sandbox variants and a small job context."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import httpx
import pytest

from lib.jobcontext import RecordingLogger
from sandbox.acme.app import DEFAULT_TOKEN
from sandbox.server import RunningServer, serve_in_thread

#: fast retries for sandbox runs with faults (no Retry-After is sent unless a test asks)
FAST_RETRY = {"initial_wait": 0.001, "max_wait": 0.05, "max_total": 20, "max_attempts": 8}


class KitContext:
    """The slice of a job context a source reads: settings, secrets, logger (no Nuntiq)."""

    def __init__(self, config: Mapping[str, Any] | None = None, secrets: Mapping[str, str] | None = None):
        self.config = dict(config or {})
        self.secrets = dict(secrets if secrets is not None else {"acme_token": DEFAULT_TOKEN})
        self.logger = RecordingLogger()
        self.api: Any = None

    def get_config(self, key: str, default: Any = None) -> Any:
        return self.config.get(key, default)

    def get_secret(self, key: str) -> Any:
        return self.secrets.get(key)

    def get_param(self, key: str, default: Any = None) -> Any:
        return default


@pytest.fixture
def acme_factory() -> Iterator[Any]:
    """``acme_factory(**options)`` starts an Acme variant; all are stopped after the test."""
    started: list[RunningServer] = []

    def start(**options: Any) -> RunningServer:
        server = serve_in_thread("acme", **options)
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


def ground_truth(server: RunningServer) -> dict[str, Any]:
    with server.admin() as admin:
        result: dict[str, Any] = admin.get("/_sandbox/acme/suppliers").raise_for_status().json()
        return result


def set_quirks(server: RunningServer, **quirks: Any) -> None:
    with server.admin() as admin:
        admin.put("/_sandbox/acme/quirks", json=quirks).raise_for_status()


def touch(server: RunningServer, *numbers: str, first: int = 0, rename: str = "") -> list[dict[str, Any]]:
    with server.admin() as admin:
        body = {"numbers": list(numbers), "first": first, "rename": rename}
        response = admin.post("/_sandbox/acme/touch", json=body)
        result: list[dict[str, Any]] = response.raise_for_status().json()
        return result


def acme_get(server: RunningServer, **params: Any) -> httpx.Response:
    headers = {"Authorization": f"Bearer {DEFAULT_TOKEN}"}
    return httpx.get(f"{server.url}/suppliers", params=params, headers=headers)
