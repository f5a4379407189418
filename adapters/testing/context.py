"""A job context built from plain dicts, for testing sources and connectors without a framework."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from adapters.runtime import ApiLike
from adapters.testing.logger import RecordingLogger

__all__ = ["FakeContext"]


class FakeContext:
    """Implements :class:`adapters.runtime.ContextLike` over ``config``, ``secrets`` and ``params``.

    ``api`` is whatever the test passes (a sandbox client, a fake); reading it when none
    was given fails loudly instead of returning a mock that accepts anything.
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
        self._api = api
        self._logger = logger or RecordingLogger()

    @property
    def api(self) -> ApiLike:
        if self._api is None:
            raise RuntimeError("this FakeContext has no api: pass api=... to FakeContext")
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
