"""Plausible answers to what no reference confirms about Connect, one option each.

The adapters depend on these properties of the real service, but neither the v37 spec
nor the example payloads settle them. Each option's first variant is the sandbox's
default; the suite runs the Connect connectors across every variant (one at a time in
``make test``, the full cross product in ``make variants-connect``).

* ``billing_download``: ``built_path`` (only the built media path serves a billing-batch
  file) or ``payload_url`` (the file entry carries a URL; the built path answers 404);
* ``server_time``: the ``limit=0`` probe that dates a window gets a ``Date`` header
  (``date_header``), none (``no_date_header``: only ``Content-Range``), or ``limit=0`` is
  answered 400 and no response has a ``Date`` (``limit_zero_refused``);
* ``headquarters``: a partner's headquarters is one free-text line (``text``, the spec's
  ``string``) or an address object (``object``);
* ``page_cap``: the largest page any list returns, silently (``0`` = none, ``100``, ``37``);
* ``max_limit``: the largest ``limit`` a list without a spec maximum accepts: clamped to
  1000 (``clamp_1000``), refused with 400 above 100 (``refuse_over_100``), clamped to 250
  (``clamp_250``);
* ``select``: ``select(-field)`` leaves the field out of each record (``honoured``), is
  accepted and changes nothing (``ignored``), or is answered 400 (``refused``); the spec
  names it for ``/requests`` only.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["ConnectVariants", "all_variants", "one_at_a_time"]


class ConnectVariants(BaseModel):
    """One choice per unconfirmed property (defaults: the sandbox's original behaviour)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    billing_download: Literal["built_path", "payload_url"] = "built_path"
    server_time: Literal["date_header", "no_date_header", "limit_zero_refused"] = "date_header"
    headquarters: Literal["text", "object"] = "text"
    page_cap: Literal[0, 100, 37] = 0
    max_limit: Literal["clamp_1000", "refuse_over_100", "clamp_250"] = "clamp_1000"
    select: Literal["honoured", "ignored", "refused"] = "honoured"
    #: longest request target (path + query) accepted; longer ones get 414, as from a proxy
    max_target_bytes: int = Field(8192, ge=256)
    # Lies, not variants (never in the cross product): how a list can mislead a page loop.
    #: the ``Content-Range`` total is multiplied by this (below 1: a total smaller than the truth)
    total_factor: float = Field(1.0, ge=0)
    #: every Nth list answer that has items is sent as an empty page instead (0 = never)
    empty_page_every: int = Field(0, ge=0)

    def label(self) -> str:
        changed = self.model_dump(exclude_defaults=True)
        return ",".join(f"{k}={v}" for k, v in sorted(changed.items())) or "defaults"


def _choices() -> dict[str, tuple[Any, ...]]:
    found: dict[str, tuple[Any, ...]] = {}
    for name, info in ConnectVariants.model_fields.items():
        args = getattr(info.annotation, "__args__", None)
        if args and name != "max_target_bytes":
            found[name] = tuple(args)
    return found


def one_at_a_time() -> list[ConnectVariants]:
    """The defaults, then every other variant of every option with the rest at default."""
    result = [ConnectVariants()]
    for name, values in _choices().items():
        default = ConnectVariants.model_fields[name].default
        result += [ConnectVariants(**{name: value}) for value in values if value != default]
    return result


def all_variants() -> Iterator[ConnectVariants]:
    """The full cross product of every option's variants."""
    choices = _choices()
    for combo in itertools.product(*choices.values()):
        yield ConnectVariants(**dict(zip(choices, combo, strict=True)))
