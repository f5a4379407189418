"""Variants of the Nuntiq behaviours no reference confirms, switchable per sandbox.

The package must be safe under every plausible answer, so the sandbox offers each one
(see API.md, "Unconfirmed assumptions"):

* ``delta_start``: what starting a delta run does while another run of the stream is
  still ``running``: ``abandon`` it (the default, what the sandbox always did),
  ``refuse`` the new start with ``409`` unless the running one is older than
  ``stale_run_seconds`` (then it is abandoned), or ``allow`` both to run;
* ``upload_delay_ms``: how long Nuntiq takes to store an upload once its body arrived
  (a slow upload outlasting the client's timeout), for ``slow_upload_rate`` of them;
* ``write_deadline_seconds``: the assumed request deadline: an upload still being
  processed after this long is dropped (``504``, nothing stored) instead of stored late.

The shapes of the custom-data and source-document endpoints, which the framework's
documentation does not give (the first value of each is what API.md describes):

=================  =================================================================
``list_shape``     a list answer: ``items_count_page`` (``{items, count, page}``, as
                   documented for ``/v1/supplier``), ``bare_list`` (a JSON array),
                   ``data_total`` (``{data, total, page}``), ``next_cursor``
                   (``{items, next_cursor}``, the next page asked with ``cursor=``;
                   ``page`` ignored)
``page_cap``       the largest ``limit``: ``none`` (1000), ``clamp_100`` (larger
                   limits silently served 100 rows), ``refuse_above_100`` (``400``)
``key_prefix``     the custom-data list filter: ``honoured`` or ``ignored`` (the
                   whole table is listed)
``upsert_answer``  what a custom-data PUT answers: ``updated_at`` (``{written,
                   updated_at}``), ``rows`` (the rows written, each with its
                   ``updated_at``), ``camel`` (``updatedAt``, in lists too), ``bare``
                   (``{written}``: the time only on the listed rows)
``upload_answer``  what an upload answers: the ``document``, a ``list`` holding it,
                   or ``wrapped`` (``{"document": ...}``)
``created_after``  the source-document list filter: ``exclusive``, ``inclusive`` or
                   ``ignored``
``document_order`` the source-document list order: ``created_asc`` or ``created_desc``
=================  =================================================================

``paths`` (not among the shape options: the package cannot guess a path, so under the
other value every connector must fail at once, naming the assumption): ``documented``
(``/v1/custom-data/{table}``) or ``custom_data_tables`` (``/v1/custom-data/tables/{table}/rows``;
the documented path answers ``404``).
"""

from __future__ import annotations

import itertools
import random
from typing import Literal

from fastapi import Request
from pydantic import BaseModel, ConfigDict, Field

__all__ = ["SHAPE_OPTIONS", "Variants", "shape_cross_product", "shape_sample", "variants_of"]

#: every value of each shape option, the documented guess first
SHAPE_OPTIONS: dict[str, tuple[str, ...]] = {
    "list_shape": ("items_count_page", "bare_list", "data_total", "next_cursor"),
    "page_cap": ("none", "clamp_100", "refuse_above_100"),
    "key_prefix": ("honoured", "ignored"),
    "upsert_answer": ("updated_at", "rows", "camel", "bare"),
    "upload_answer": ("document", "list", "wrapped"),
    "created_after": ("exclusive", "inclusive", "ignored"),
    "document_order": ("created_asc", "created_desc"),
}


class Variants(BaseModel):
    model_config = ConfigDict(extra="forbid")

    delta_start: Literal["abandon", "refuse", "allow"] = "abandon"
    stale_run_seconds: float = Field(900.0, gt=0)
    upload_delay_ms: float = Field(0.0, ge=0)
    slow_upload_rate: float = Field(1.0, ge=0, le=1, description="share of uploads that are slow")
    write_deadline_seconds: float | None = Field(None, gt=0)
    list_shape: Literal["items_count_page", "bare_list", "data_total", "next_cursor"] = "items_count_page"
    page_cap: Literal["none", "clamp_100", "refuse_above_100"] = "none"
    key_prefix: Literal["honoured", "ignored"] = "honoured"
    upsert_answer: Literal["updated_at", "rows", "camel", "bare"] = "updated_at"
    upload_answer: Literal["document", "list", "wrapped"] = "document"
    created_after: Literal["exclusive", "inclusive", "ignored"] = "exclusive"
    document_order: Literal["created_asc", "created_desc"] = "created_asc"
    paths: Literal["documented", "custom_data_tables"] = "documented"

    def shapes(self) -> dict[str, str]:
        """The shape options only (what the variant runs vary)."""
        return {name: str(getattr(self, name)) for name in SHAPE_OPTIONS}

    def label(self) -> str:
        return "-".join(self.shapes().values())


def variants_of(request: Request) -> Variants:
    variants: Variants = request.app.state.variants
    return variants


def shape_cross_product() -> list[Variants]:
    """Every combination of the shape options (the others at their defaults)."""
    names = list(SHAPE_OPTIONS)
    return [
        Variants(**dict(zip(names, combo, strict=True)))  # type: ignore[arg-type]
        for combo in itertools.product(*SHAPE_OPTIONS.values())
    ]


def shape_sample(seed: int, count: int) -> list[Variants]:
    """``count`` combinations drawn with ``seed``; every value of every option appears once
    ``count`` reaches the longest option's number of values."""
    rng = random.Random(seed)
    columns = {name: rng.sample(values, len(values)) for name, values in SHAPE_OPTIONS.items()}
    return [
        Variants(**{name: values[i % len(values)] for name, values in columns.items()})  # type: ignore[arg-type]
        for i in range(count)
    ]
