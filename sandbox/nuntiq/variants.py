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
"""

from __future__ import annotations

from typing import Literal

from fastapi import Request
from pydantic import BaseModel, ConfigDict, Field

__all__ = ["Variants", "variants_of"]


class Variants(BaseModel):
    model_config = ConfigDict(extra="forbid")

    delta_start: Literal["abandon", "refuse", "allow"] = "abandon"
    stale_run_seconds: float = Field(900.0, gt=0)
    upload_delay_ms: float = Field(0.0, ge=0)
    slow_upload_rate: float = Field(1.0, ge=0, le=1, description="share of uploads that are slow")
    write_deadline_seconds: float | None = Field(None, gt=0)


def variants_of(request: Request) -> Variants:
    variants: Variants = request.app.state.variants
    return variants
