"""pytest plugin of the test kit (entry point ``pytest11: nuntiq_adapters``).

pytest loads this module in every environment that holds the package, with or without
the ``testing`` extra, so it imports nothing but pytest at module level: fixtures import
what they need when a test asks for them.

Fixtures:

``nuntiq_secrets``
    Secret values that must never reach a cassette. Empty by default; override it in a
    ``conftest.py`` (e.g. return the ``secrets`` of your settings fixture). Credential
    shapes (``ApiKey``, ``Bearer``, ``Basic``, URL signatures) are scrubbed regardless.
``vcr_config``
    pytest-recording's config, built by :func:`adapters.testing.cassette_config` from
    ``nuntiq_secrets``. Record with ``pytest --record-mode=once`` (new cassettes only) or
    re-record with ``--record-mode=all``; the default ``none`` never goes live.
``no_retry_sleep``
    Replaces the wait of every :class:`adapters.retry.Retrier` built without an explicit
    ``sleep`` and returns the list of waits asked for. Applied automatically to tests
    marked ``vcr``, so recorded 429s and 503s replay instantly.
``fake_clock``, ``recording_logger``, ``fake_context``
    :class:`~adapters.testing.FakeClock`, :class:`~adapters.testing.RecordingLogger`, and
    a factory for :class:`~adapters.testing.FakeContext`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from adapters.testing.clock import FakeClock
    from adapters.testing.context import FakeContext
    from adapters.testing.logger import RecordingLogger


@pytest.hookimpl(optionalhook=True)  # the hook exists only where pytest-recording is installed
def pytest_recording_configure(config: Any, vcr: Any) -> None:
    """Register the kit's query matcher (``DEFAULT_MATCH_ON`` names it)."""
    from adapters.testing.cassettes import QUERY_TERMS, query_terms

    vcr.register_matcher(QUERY_TERMS, query_terms)


@pytest.fixture
def nuntiq_secrets() -> list[str]:
    return []


@pytest.fixture
def vcr_config(nuntiq_secrets: list[str]) -> dict[str, Any]:
    from adapters.testing.cassettes import cassette_config

    return cassette_config(nuntiq_secrets)


@pytest.fixture
def no_retry_sleep(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    import adapters.retry

    waits: list[float] = []
    monkeypatch.setattr(adapters.retry, "default_sleep", waits.append)
    return waits


@pytest.fixture(autouse=True)
def _replay_retries_without_sleeping(request: pytest.FixtureRequest) -> Iterator[None]:
    if request.node.get_closest_marker("vcr") is not None:
        request.getfixturevalue("no_retry_sleep")
    yield


@pytest.fixture
def fake_clock() -> FakeClock:
    from adapters.testing.clock import FakeClock

    return FakeClock()


@pytest.fixture
def recording_logger() -> RecordingLogger:
    from adapters.testing.logger import RecordingLogger

    return RecordingLogger()


@pytest.fixture
def fake_context(recording_logger: RecordingLogger) -> Callable[..., FakeContext]:
    """``fake_context(config, secrets=..., params=..., api=...)``, logging to ``recording_logger``."""
    from adapters.testing.context import FakeContext

    def build(config: dict[str, Any] | None = None, **kwargs: Any) -> FakeContext:
        kwargs.setdefault("logger", recording_logger)
        return FakeContext(config, **kwargs)

    return build
