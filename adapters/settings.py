"""Settings every connector shares, and the checks that refuse mistakes in any settings file.

A typo in a settings key is the costliest kind of mistake: ``connect_endpont`` would let
the adapter fall back to production Connect and fail half a minute later with an error
that names neither. So every integration validates its keys against its pydantic model
before any call, and a key that is not known but *looks like* one is refused with
"did you mean …".

:class:`RunSettings` holds what every connector reads whatever its source (config top
level). To add a run-wide setting (a lease TTL, a time budget, checkpoint or quarantine
thresholds, windows), add a field here: it is then known to the typo check and appears
in every integration's JSON Schema (``python -m lib.cli discover``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from adapters.quarantine import QuarantineSettings
from adapters.retry import RetryPolicy
from adapters.runsettings import RunLimits
from adapters.runtime import ContextLike
from adapters.suggest import closest, did_you_mean

__all__ = [
    "RunSettings",
    "SettingsError",
    "check_config_keys",
    "config_keys",
    "config_schema",
    "explain_validation_error",
]


class SettingsError(ValueError):
    """A settings key is unknown or a value is invalid (raised before any call)."""


class RunSettings(BaseModel):
    """Config keys every connector may set, whatever its source (top level of ``config``).

    ``extra="allow"``: connectors keep their own keys next to these.
    """

    model_config = ConfigDict(frozen=True, extra="allow")

    connector_name: str | None = Field(
        None, description="names the connector instance in delta state (one cursor per name and stream)"
    )
    retry: RetryPolicy = Field(
        default_factory=RetryPolicy, description="limits of the retry loop for every call the connector makes"
    )
    run: RunLimits = Field(
        default_factory=RunLimits,
        description="time budget, run lease, upload deadline and checkpoint intervals of every run",
    )
    quarantine: QuarantineSettings | bool = Field(
        default_factory=QuarantineSettings,
        description="refusal threshold and store of the quarantine; false keeps fail-fast behaviour",
    )


def config_keys(context: ContextLike) -> list[str] | None:
    """Every top-level config key of the context, or None when it cannot list them.

    The framework's documented surface has only ``get_config(key)``; the local runtime and
    the test kit expose a ``config`` mapping, which is what the typo checks use.
    """
    value = getattr(context, "config", None)
    if isinstance(value, Mapping):
        return [str(k) for k in value]
    return None


def check_config_keys(keys: Iterable[str], *, prefix: str, known: Iterable[str], what: str) -> None:
    """Refuse ``prefix``-ed keys that are not ``known``, and near misses of known ones.

    ``known`` are full key names (e.g. ``connect_endpoint``); other top-level keys are
    left alone (they belong to the connector) unless they look like a typo of a known
    key or of a :class:`RunSettings` field.
    """
    known = set(known)
    shared = set(RunSettings.model_fields)
    everything = sorted(known | shared)
    for key in keys:
        if key in known or key in shared:
            continue
        if key.startswith(prefix) or closest(key, everything):
            raise SettingsError(f"config.{key} is not a {what} setting{did_you_mean(key, everything)}")


def explain_validation_error(exc: ValidationError, prefix: str) -> str:
    """``<prefix><field>: problem; ...`` from a pydantic error, without echoing whole inputs.

    ``prefix`` is how the key is spelt in the settings file, e.g. ``config.connect_``.
    """
    problems = []
    for error in exc.errors():
        location = ".".join(str(p) for p in error["loc"])
        problems.append(f"{prefix}{location or ''}".rstrip("._") + f": {error['msg']}")
    return "; ".join(problems)


def _hoist_defs(schema: dict[str, Any], defs: dict[str, Any]) -> dict[str, Any]:
    defs.update(schema.pop("$defs", {}))
    return schema


def config_schema(title: str, properties: Mapping[str, Mapping[str, Any]], **defs: Any) -> dict[str, Any]:
    """The JSON Schema of a connector's ``config``: :class:`RunSettings` plus ``properties``.

    ``properties`` come from an integration's settings model (flat keys or one block);
    their ``$defs`` are gathered at the root so ``$ref`` paths stay valid.
    """
    collected: dict[str, Any] = dict(defs)
    run = _hoist_defs(RunSettings.model_json_schema(), collected)
    merged: dict[str, Any] = dict(run.get("properties", {}))
    for name, schema in properties.items():
        merged[name] = _hoist_defs(dict(schema), collected)
    result: dict[str, Any] = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": title,
        "type": "object",
        "properties": merged,
        "additionalProperties": True,
    }
    if collected:
        result["$defs"] = collected
    return result
