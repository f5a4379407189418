"""Splitting a tie group (records sharing one order value) into parts of bounded size.

Connect cannot order by ``id`` or filter it with ``gt``: the only way to step over
records already read at one ``updated`` value is ``out(id,(...))``, whose length grows
with the group. A bulk operation stamping 50,000 records with one value would need a
request target of nearly a megabyte, which proxies refuse (HTTP 414) long before.

What the spec does allow on ``id`` is ``like`` (a ``*`` wildcard), and RQL has
``not``. An :class:`IdRange` is "ids starting with ``prefix`` whose next character is
not one of ``excluded``"; :meth:`IdRange.split` cuts it into one range per next
character seen so far plus the rest:

    (P, E)  =  (P+c1, {}) + (P+c2, {}) + ... + (P, E | {c1, c2, ...})

The parts are disjoint and together exactly the original, whatever characters ids
use: the last part ("the rest") keeps every id under ``P`` whose next character has
not been seen, including the id equal to ``P`` itself. Each part is then read with an
``out`` list of only the ids already read *in that part*, so every request stays
short; a part whose list grows past the budget is split again. A record that leaves
the group while it is being read (its ``updated`` grows) is not lost: it matches the
outer keyset filter again at its new value.
"""

from __future__ import annotations

import functools
import operator
from collections.abc import Iterable
from dataclasses import dataclass, field

from connect.client import R

__all__ = ["TIE_ID_BUDGET", "IdRange", "fits_budget", "unsafe_id"]

#: most characters an ``out(id,(...))`` list may take in one request target; with the
#: rest of the query this keeps every target well under 4 KB
TIE_ID_BUDGET = 2048

#: characters with a meaning in RQL or in ``like`` patterns: an id holding one cannot
#: be used as a prefix
_RQL_SPECIAL = frozenset("*(),&|=!<>'\"?% \t\r\n")


def fits_budget(ids: Iterable[str], budget: int = TIE_ID_BUDGET) -> bool:
    """Whether ``out(id,(ids))`` stays within ``budget`` characters."""
    used = 0
    for value in ids:
        used += len(value) + 1
        if used > budget:
            return False
    return True


def unsafe_id(value: str) -> bool:
    return any(ch in _RQL_SPECIAL for ch in value)


@dataclass(frozen=True, slots=True)
class IdRange:
    """Ids starting with ``prefix`` whose character after it is not in ``excluded``."""

    prefix: str = ""
    excluded: frozenset[str] = field(default_factory=frozenset)

    def contains(self, value: str) -> bool:
        if not value.startswith(self.prefix):
            return False
        return len(value) == len(self.prefix) or value[len(self.prefix)] not in self.excluded

    def rql(self, key_field: str = "id") -> R:
        terms: list[R] = []
        if self.prefix:
            terms.append(R().n(key_field).like(f"{self.prefix}*"))
        terms += [~R().n(key_field).like(f"{self.prefix}{char}*") for char in sorted(self.excluded)]
        if not terms:
            return R()
        # combined from the first term: ``R() & ~x`` drops the negation (connect-openapi-client)
        return functools.reduce(operator.and_, terms)

    def split(self, known: Iterable[str]) -> list[tuple[IdRange, frozenset[str]]]:
        """The parts of this range, each with the ids of ``known`` that fall into it.

        ``known`` ids outside the range (a server that ignored the filter) are dropped.
        """
        depth = len(self.prefix)
        by_char: dict[str, set[str]] = {}
        rest: set[str] = set()
        for value in known:
            if not self.contains(value):
                continue
            if len(value) == depth:
                rest.add(value)
            else:
                by_char.setdefault(value[depth], set()).add(value)
        parts = [(IdRange(self.prefix + char), frozenset(ids)) for char, ids in sorted(by_char.items())]
        parts.append((IdRange(self.prefix, self.excluded | frozenset(by_char)), frozenset(rest)))
        return parts
