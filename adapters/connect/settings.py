"""Connect connection settings and client construction.

Every knob a connector may set lives in one pydantic model read from the job's
config, so a settings file is validated before the first request. The API key is
read from a *secret* whose name is itself a setting: the classifier's auth hint
names that setting, so an operator knows which secret to fix, and the key is held
as a ``SecretStr`` so it never shows up in a repr, a log line or an exception.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

import requests
from connect.client import ConnectClient
from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator

from adapters import progress
from adapters.jsonbody import use_fast_json
from adapters.runtime import ContextLike
from adapters.settings import (
    SettingsError,
    check_config_keys,
    config_keys,
    config_schema,
    explain_validation_error,
)

__all__ = [
    "API_KEY_SECRET_SETTING",
    "CONFIG_KEYS",
    "DEFAULT_ENDPOINT",
    "ConnectSettings",
    "build_client",
    "client_from_context",
    "config_json_schema",
    "settings_from_context",
]

CONFIG_PREFIX = "connect_"
API_PATH = "/public/v1"
DEFAULT_ENDPOINT = f"https://api.connect.cloudblue.com{API_PATH}"

#: windows read at once on a large backlog (1: one walk, :mod:`adapters.connect.windows`);
#: chosen from ``python -m bench connect`` on a 2-core machine (bench/README.md)
DEFAULT_PARALLEL_WINDOWS = 4

#: config key naming the secret that holds the API key (the auth hint refers to it)
API_KEY_SECRET_SETTING = "connect_api_key_secret"
DEFAULT_API_KEY_SECRET = "connect_api_key"


class ConnectSettings(BaseModel):
    """What a connector configures about Connect (config keys are ``connect_<field>``)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    endpoint: str = Field(DEFAULT_ENDPOINT, description="Connect API base URL, ending in /public/v1")
    api_key_secret: str = Field(DEFAULT_API_KEY_SECRET, description="name of the secret holding the API key")
    page_size: int = Field(
        1000,
        ge=1,
        le=1000,
        description="records requested per page; lowered for the run if the server refuses it",
    )
    parallel_windows: int = Field(
        DEFAULT_PARALLEL_WINDOWS,
        ge=1,
        le=32,
        description=(
            "time windows of a large backlog read at once (1: one request at a time); "
            "the stream stays in cursor order"
        ),
    )
    window_records: int | None = Field(
        None,
        ge=1,
        description="records a window aims at (default: 95% of the page size, so a window is one request)",
    )
    connection_timeout: float = Field(15.0, gt=0, description="seconds to establish a connection")
    read_timeout: float = Field(60.0, gt=0, description="seconds to wait for response bytes")
    lookback_seconds: float = Field(
        120.0,
        ge=0,
        description="subtracted from the stored cursor: records committed late with an earlier time",
    )
    whole_records: bool = Field(
        False,
        description=(
            "ask for whole records, even where a connector names fields it does not read "
            "(by default those are left out with select(-...))"
        ),
    )

    @field_validator("endpoint")
    @classmethod
    def _strip_slash(cls, value: str) -> str:
        value = value.strip().rstrip("/")
        if not value.startswith(("http://", "https://")):
            raise ValueError(f"connect_endpoint must be an http(s) URL, got {value!r}")
        if not urlsplit(value).path:
            value += API_PATH  # a bare host (e.g. a local sandbox URL) means its public API
        return value

    def source_options(self) -> dict[str, Any]:
        """The keyword arguments every Connect source takes from settings, so connectors
        wire a source in one line and cannot forget one of them."""
        return {
            "page_size": self.page_size,
            "lookback": timedelta(seconds=self.lookback_seconds),
            "parallel_windows": self.parallel_windows,
            "window_records": self.window_records,
        }


#: every config key this integration reads
CONFIG_KEYS: tuple[str, ...] = tuple(f"{CONFIG_PREFIX}{name}" for name in ConnectSettings.model_fields)


def settings_from_context(context: ContextLike, **overrides: Any) -> ConnectSettings:
    """Read ``connect_*`` config keys from the job context (``overrides`` win).

    An unknown ``connect_*`` key, or a near miss of one (``conect_endpoint``), is refused
    before anything else: a misspelt endpoint must not fall back to production Connect.
    """
    keys = config_keys(context)
    if keys is not None:
        check_config_keys(keys, prefix=CONFIG_PREFIX, known=CONFIG_KEYS, what="Connect")
    values: dict[str, Any] = {}
    for name in ConnectSettings.model_fields:
        value = context.get_config(f"{CONFIG_PREFIX}{name}")
        if value is not None:
            values[name] = value
    values.update(overrides)
    try:
        return ConnectSettings(**values)
    except ValidationError as exc:
        raise SettingsError(explain_validation_error(exc, f"config.{CONFIG_PREFIX}")) from None


def config_json_schema() -> dict[str, Any]:
    """The JSON Schema of a Connect connector's ``config`` (flat ``connect_*`` keys)."""
    schema = ConnectSettings.model_json_schema()
    properties = {f"{CONFIG_PREFIX}{k}": v for k, v in schema.get("properties", {}).items()}
    return config_schema("Connect connector config", properties)


def _authorization(api_key: str | SecretStr) -> str:
    raw = api_key.get_secret_value() if isinstance(api_key, SecretStr) else api_key
    raw = raw.strip()
    if not raw:
        raise ValueError("the Connect API key is empty")
    return raw if raw.startswith("ApiKey ") else f"ApiKey {raw}"


def _report_response(response: requests.Response, *args: Any, **kwargs: Any) -> None:
    """A ``requests`` response hook: size and the server's remaining count, for progress."""
    size = response.headers.get("Content-Length", "")
    progress.report_response(
        f"connect {urlsplit(response.url).netloc}",
        size=int(size) if size.isdigit() else 0,
        # a limit=0 probe (the server-time request) counts the unfiltered collection
        remaining=None if "limit=0" in urlsplit(response.url).query else progress.parse_content_range(
            response.headers.get("Content-Range")
        ),
        seconds=response.elapsed.total_seconds(),
    )


class _ReportingConnectClient(ConnectClient):  # type: ignore[misc]  # the SDK is untyped
    """``ConnectClient`` whose (thread-local, lazily made) sessions report each response.

    Its responses also decode their JSON with msgspec (:mod:`adapters.jsonbody`): the
    SDK's own ``response.json()`` call, with the standard library's result, faster.
    """

    @property
    def session(self) -> requests.Session:
        session: requests.Session = super().session
        hooks = session.hooks["response"]
        for hook in (use_fast_json, _report_response):
            if hook not in hooks:
                hooks.append(hook)
        return session


def build_client(settings: ConnectSettings, api_key: str | SecretStr) -> ConnectClient:
    """A ``ConnectClient`` with the SDK's own retries and page accumulation switched off.

    ``max_retries=0``: the SDK's loop sleeps a fixed second, retries POSTs and never
    retries 429; :mod:`adapters.retry` does it instead. ``resourceset_append=False``:
    the default keeps every page of a ResourceSet in memory. No SDK logger is passed
    because it would print the Authorization header.
    """
    return _ReportingConnectClient(
        _authorization(api_key),
        endpoint=settings.endpoint,
        use_specs=False,
        default_limit=settings.page_size,
        max_retries=0,
        logger=None,
        timeout=(settings.connection_timeout, settings.read_timeout),
        resourceset_append=False,
    )


def client_from_context(context: ContextLike, settings: ConnectSettings | None = None) -> ConnectClient:
    """Build the client from the job context: settings from config, key from the named secret."""
    settings = settings or settings_from_context(context)
    key = context.get_secret(settings.api_key_secret)
    if not key:
        raise ValueError(
            f"secret {settings.api_key_secret!r} (named by config {API_KEY_SECRET_SETTING!r}) "
            "is missing or empty: it must hold the Connect API key"
        )
    return build_client(settings, SecretStr(str(key)))
