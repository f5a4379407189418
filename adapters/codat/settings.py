"""Typed Codat settings, read once from the job context.

Keeping every key in one model means a typo in ``settings.json`` fails at start-up
with the key's name, not half-way through a sync with an opaque SDK error.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator

from adapters.runtime import ContextLike
from adapters.settings import SettingsError, check_config_keys, config_keys, config_schema
from adapters.suggest import did_you_mean

DEFAULT_SERVER_URL = "https://api.codat.io"
DEFAULT_API_KEY_SECRET = "codat_api_key"


class ArchiveLimits(BaseModel):
    """Bounds an archive must stay within before any member is read.

    The defaults fit a day of business documents (each at most 10 MB upstream) with a
    wide margin, while refusing the classic zip bombs long before they fill a disk.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    max_members: int = Field(default=2000, ge=1)
    max_total_bytes: int = Field(default=2 * 1024**3, ge=1, description="sum of declared expanded sizes")
    max_member_bytes: int = Field(default=512 * 1024**2, ge=1)
    max_ratio: float = Field(default=200.0, gt=1, description="largest expanded/compressed ratio per member")
    ratio_floor_bytes: int = Field(
        default=1024**2,
        ge=0,
        description="members smaller than this skip the ratio check (tiny files compress well)",
    )
    max_archive_bytes: int = Field(default=4 * 1024**3, ge=1, description="largest download accepted")


class CodatSettings(BaseModel):
    """Everything the Codat adapter needs besides the API key itself."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    server_url: str = Field(DEFAULT_SERVER_URL, description="Codat API base URL")
    company_ids: tuple[str, ...] = Field((), description="companies to read (company_id for one)")
    connection_id: str | None = Field(None, description="connection files are pushed to (push only)")
    timeout_s: float = Field(default=60.0, gt=0, description="request timeout, seconds")
    #: zone for ``uploaded`` values sent without one (Codat: "local to the business")
    local_timezone: str = Field("UTC", description="IANA zone for uploaded times sent without one")
    api_key_secret: str = Field(DEFAULT_API_KEY_SECRET, description="name of the secret holding the API key")
    archive_limits: ArchiveLimits = Field(default_factory=ArchiveLimits)

    @field_validator("server_url")
    @classmethod
    def _strip_slash(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError(f"codat server_url must be an http(s) URL, got {value!r}")
        return value.rstrip("/")

    @field_validator("local_timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"codat local_timezone {value!r} is not a known IANA zone") from exc
        return value

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.local_timezone)

    @classmethod
    def from_mapping(cls, config: Mapping[str, Any]) -> CodatSettings:
        """Build from a ``codat`` config block; ``company_id`` is accepted for one company."""
        data = dict(config)
        _refuse_unknown(data, cls, "config.codat", extra=("company_id",))
        limits = data.get("archive_limits")
        if isinstance(limits, Mapping):
            _refuse_unknown(limits, ArchiveLimits, "config.codat.archive_limits")
        single = data.pop("company_id", None)
        if single and not data.get("company_ids"):
            data["company_ids"] = [single]
        return cls.model_validate(data)

    @classmethod
    def from_context(cls, context: ContextLike, key: str = "codat") -> CodatSettings:
        keys = config_keys(context)
        if keys is not None:
            # "codat_*" keys and near misses of the block's name at the top level are typos
            check_config_keys(keys, prefix=f"{key}_", known=(key,), what="Codat")
        block = context.get_config(key)
        if not isinstance(block, Mapping):
            raise ValueError(f"settings: config.{key} must be an object with the Codat settings")
        return cls.from_mapping(block)


def _refuse_unknown(
    data: Mapping[str, Any], model: type[BaseModel], where: str, extra: tuple[str, ...] = ()
) -> None:
    """Name an unknown key and the likely intended one (pydantic would only say "extra")."""
    known = [*model.model_fields, *extra]
    for name in data:
        if name not in known:
            raise SettingsError(f"{where}.{name} is not a Codat setting{did_you_mean(str(name), known)}")


def config_json_schema() -> dict[str, Any]:
    """The JSON Schema of a Codat connector's ``config`` (settings in the ``codat`` block)."""
    return config_schema("Codat connector config", {"codat": CodatSettings.model_json_schema()})


def auth_header(api_key: str) -> str:
    """Codat's scheme: ``Basic`` + base64 of the API key (no user:password pair)."""
    key = api_key.strip()
    if not key:
        raise ValueError("the Codat API key secret is empty")
    return "Basic " + base64.b64encode(key.encode()).decode()
