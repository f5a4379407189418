""""Did you mean …" for names a user typed: settings keys and job parameters."""

from __future__ import annotations

import difflib
from collections.abc import Iterable

__all__ = ["closest", "did_you_mean"]

#: how alike two names must be to count as a typo (``since_overide`` vs ``since_override``
#: scores 0.96; unrelated names such as ``run_id`` vs ``lookback_days`` stay far below)
TYPO_CUTOFF = 0.8


def closest(name: str, known: Iterable[str], *, cutoff: float = TYPO_CUTOFF) -> list[str]:
    """The known names ``name`` is most likely a misspelling of, best first (at most three)."""
    return difflib.get_close_matches(name, list(known), n=3, cutoff=cutoff)


def did_you_mean(name: str, known: Iterable[str], *, cutoff: float = 0.6) -> str:
    """`` (did you mean 'x'?)`` or ``""``; a looser cutoff than :data:`TYPO_CUTOFF` because it
    only decorates a message that refuses the name anyway."""
    matches = closest(name, known, cutoff=cutoff)
    if not matches:
        return ""
    return " (did you mean " + " or ".join(repr(m) for m in matches) + "?)"
