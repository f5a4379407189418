"""The Codat properties nobody has confirmed, each with the plausible answers the sandbox can give.

Codat's spec and docs leave these open (see the README's "Unconfirmed assumptions"):

=================  ===================================================================
``layout``         where a file sits in the day archive: ``root``, per-``sourceType``
                   folder (``source_type``), per-date folder (``date``), or both
                   (``nested``: ``2026-01-05/Accounting/x.pdf``)
``numbering``      how a name repeated in one folder is told apart: ``paren``
                   (``x (2).pdf``), ``underscore`` (``x_1.pdf``), ``dash`` (``x-2.pdf``)
``date_rule``      which files ``?date=D`` selects: the date part of ``uploaded`` as
                   sent (``raw``), the UTC date (``utc``), the company's local date
                   (``local``)
``empty_day``      the answer for a date without files: an empty zip (``empty_zip``),
                   ``404`` with an error body, ``204`` without a body
``error_body``     the error shape: the spec's ``ErrorMessage`` (``spec``), the docs'
                   example without ``canBeRetried``/``detailedErrorCode`` and with a
                   ``validation`` block (``docs``), or the spec's own examples whose
                   ``statusCode`` disagrees with the HTTP status (``mislabelled``)
``rate_headers``   ``none``, or ``x_rate_limit``: ``X-Rate-Limit-Limit``/``-Remaining``/
                   ``-Reset`` on every response, as the rate-limit docs describe
=================  ===================================================================

:func:`sample` picks combinations reproducibly from a seed; :func:`cross_product` lists
them all.
"""

from __future__ import annotations

import itertools
import random
from dataclasses import asdict, dataclass, fields
from typing import Any

OPTIONS: dict[str, tuple[str, ...]] = {
    "layout": ("root", "source_type", "date", "nested"),
    "numbering": ("paren", "underscore", "dash"),
    "date_rule": ("raw", "utc", "local"),
    "empty_day": ("empty_zip", "404", "204"),
    "error_body": ("spec", "docs", "mislabelled"),
    "rate_headers": ("none", "x_rate_limit"),
}


@dataclass(frozen=True)
class CodatVariant:
    """One answer to each unconfirmed question; the defaults are the project's first guesses."""

    layout: str = "root"
    numbering: str = "paren"
    date_rule: str = "raw"
    empty_day: str = "empty_zip"
    error_body: str = "spec"
    rate_headers: str = "none"

    def __post_init__(self) -> None:
        for item in fields(self):
            value = getattr(self, item.name)
            if value not in OPTIONS[item.name]:
                raise ValueError(
                    f"codat variant {item.name}={value!r}: choose one of {', '.join(OPTIONS[item.name])}"
                )

    @classmethod
    def from_mapping(cls, data: dict[str, Any] | None) -> CodatVariant:
        known = {f.name for f in fields(cls)}
        unknown = set(data or {}) - known
        if unknown:
            raise ValueError(f"unknown codat variant options: {', '.join(sorted(unknown))}")
        return cls(**{k: str(v) for k, v in (data or {}).items()})

    def as_dict(self) -> dict[str, str]:
        return asdict(self)

    def label(self) -> str:
        return "-".join(getattr(self, f.name) for f in fields(self))


def cross_product() -> list[CodatVariant]:
    names = list(OPTIONS)
    return [
        CodatVariant(**dict(zip(names, combo, strict=True))) for combo in itertools.product(*OPTIONS.values())
    ]


def sample(seed: int, count: int) -> list[CodatVariant]:
    """``count`` combinations drawn with ``seed``; every option value appears when count allows."""
    rng = random.Random(seed)
    chosen: list[CodatVariant] = []
    columns = {name: rng.sample(values, len(values)) for name, values in OPTIONS.items()}
    for i in range(count):
        chosen.append(CodatVariant(**{name: values[i % len(values)] for name, values in columns.items()}))
    return chosen
