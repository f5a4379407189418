"""The job ``context`` a connector's ``run(context)`` receives, built from settings.json.

settings.json has four parts: ``customer_number``, ``secrets`` (never logged),
``config`` (per connector instance) and ``job_params`` (per run; the CLI's
``--param key=value`` overrides or extends them -- such values arrive as strings,
so connectors convert what they read, e.g. ``int(context.get_param("lookback_days", 7))``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TextIO

from lib.api_client import ApiClient
from lib.logger import Logger, collect_secret_values

_SECTIONS = ("secrets", "config", "job_params")


class SettingsError(ValueError):
    """settings.json is missing or malformed."""


class Context:
    """What the framework hands to ``run(context)``."""

    def __init__(
        self,
        *,
        customer_number: str,
        secrets: Mapping[str, Any],
        config: Mapping[str, Any],
        job_params: Mapping[str, Any],
        api: ApiClient,
        logger: Logger,
    ) -> None:
        self.customer_number = customer_number
        self._secrets = dict(secrets)
        self._config = dict(config)
        self._params = dict(job_params)
        self.api = api
        self.logger = logger
        #: delta runs this job opened (connector_name, stream, run_id, lower_bound_cursor),
        #: appended by lib.delta so the CLI can report cursors before/after.
        self.delta_runs: list[dict[str, Any]] = []

    def __repr__(self) -> str:
        return f"Context(customer_number={self.customer_number!r}, config_keys={sorted(self._config)})"

    def get_config(self, key: str, default: Any = None) -> Any:
        return self._config.get(key, default)

    def get_secret(self, key: str) -> Any:
        """The secret's value, or ``None`` when it is not configured."""
        return self._secrets.get(key)

    def get_param(self, key: str, default: Any = None) -> Any:
        return self._params.get(key, default)

    @property
    def config(self) -> dict[str, Any]:
        return dict(self._config)

    @property
    def job_params(self) -> dict[str, Any]:
        return dict(self._params)

    def redact(self, value: Any) -> Any:
        """``value`` with every secret of this job replaced (for exception texts, metadata)."""
        return self.logger.redact(value)


def read_settings(settings: str | Path | Mapping[str, Any]) -> dict[str, Any]:
    """Load and check a settings file (or mapping); errors name the file and the problem."""
    source = "settings"
    if isinstance(settings, Mapping):
        data: Any = dict(settings)
    else:
        path = Path(settings)
        source = str(path)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise SettingsError(f"settings file not found: {path}") from None
        except json.JSONDecodeError as exc:
            raise SettingsError(f"{path}: not valid JSON ({exc.msg} at line {exc.lineno})") from None
    if not isinstance(data, dict):
        raise SettingsError(f"{source}: expected a JSON object at the top level")
    customer = data.get("customer_number")
    if customer is None or str(customer).strip() == "":
        raise SettingsError(f"{source}: 'customer_number' is required")
    for section in _SECTIONS:
        value = data.get(section, {})
        if value is None:
            value = {}
        if not isinstance(value, Mapping):
            raise SettingsError(f"{source}: '{section}' must be an object")
        data[section] = dict(value)
    data["customer_number"] = str(customer)
    return data


def load_context(
    settings: str | Path | Mapping[str, Any],
    *,
    api_url: str,
    job_token: str,
    params: Mapping[str, Any] | None = None,
    log_stream: TextIO | None = None,
    log_format: str = "json",
    keep_log_records: bool = False,
    timeout: float = 30,
) -> Context:
    """Build the context for one job run.

    ``params`` override/extend the settings' ``job_params`` (e.g. ``since_override``).
    The logger redacts every secret value from settings and the job token.
    """
    data = read_settings(settings)
    job_params = dict(data["job_params"])
    job_params.update(params or {})
    secret_values = [*collect_secret_values(data["secrets"]), job_token]
    logger = Logger(log_stream, secrets=secret_values, fmt=log_format, keep_records=keep_log_records)
    api = ApiClient(api_url, job_token, data["customer_number"], timeout=timeout)
    return Context(
        customer_number=data["customer_number"],
        secrets=data["secrets"],
        config=data["config"],
        job_params=job_params,
        api=api,
        logger=logger,
    )
