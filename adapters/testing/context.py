"""A job context built from plain dicts, for testing sources and connectors without a framework."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from adapters.runtime import ApiLike
from adapters.testing.logger import RecordingLogger
from adapters.testing.nuntiq import InMemoryNuntiq

__all__ = ["FakeContext"]


class FakeContext:
    """Implements :class:`adapters.runtime.ContextLike` over ``config``, ``secrets`` and ``params``.

    ``api`` is whatever the test passes (a sandbox client, a fake); without one it is an
    :class:`~adapters.testing.nuntiq.InMemoryNuntiq`, which holds the custom-data rows a
    run keeps (its lease, ledgers, quarantine) and refuses every other call by name.
    """

    def __init__(
        self,
        config: Mapping[str, Any] | None = None,
        *,
        secrets: Mapping[str, Any] | None = None,
        params: Mapping[str, Any] | None = None,
        api: ApiLike | None = None,
        logger: RecordingLogger | None = None,
    ) -> None:
        self.config: dict[str, Any] = dict(config or {})
        self.secrets: dict[str, Any] = dict(secrets or {})
        self.params: dict[str, Any] = dict(params or {})
        self._api: ApiLike = api if api is not None else InMemoryNuntiq()
        self._logger = logger or RecordingLogger()

    @property
    def api(self) -> ApiLike:
        return self._api

    @property
    def logger(self) -> RecordingLogger:
        return self._logger

    def get_config(self, key: str, default: Any = None) -> Any:
        return self.config.get(key, default)

    def get_secret(self, key: str) -> Any:
        return self.secrets.get(key)

    def get_param(self, key: str, default: Any = None) -> Any:
        return self.params.get(key, default)

    def secret_values(self) -> list[str]:
        """Every secret as text (for :class:`~adapters.testing.SecretScrubber` and leak checks)."""
        return [str(v) for v in self.secrets.values() if v]
