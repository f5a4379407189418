"""Which member of one day's archive is which listed file, for any plausible archive layout.

The listing gives only ``fileName``, ``displayName``, ``sourceType`` and ``uploaded``;
the archive gives member paths. Codat documents neither the layout nor how it names
a file uploaded twice on one day, so every plausible form is accepted:

* members at the root, in per-``sourceType`` folders, per-date folders, or nested
  deeper (``2026-01-05/Accounting/x.pdf``): folders only matter where one of them
  names a listed ``sourceType`` (compared case-insensitively), which then tells
  same-named files of different source types apart;
* names compared in Unicode NFC (a decomposed ``ä`` is the composed one);
* duplicate numbering ``name (2).pdf``, ``name(2).pdf``, ``name_1.pdf``, ``name-2.pdf``:
  a member whose base name is a listed name is that name; otherwise a numbered member
  belongs to the listed name it un-numbers to.

Within one name (and source type, where folders tell), a single member is matched to a
single file. Several same-named files that nothing else tells apart are paired in
**upload order** (earliest upload with the un-numbered member or the lowest number);
this is the one assumption left, and every use of it is reported in
:attr:`DayMatch.notes`. What cannot be told apart without guessing (fewer members than
files of one name, two members with the same rank) is not guessed: those files are
returned in :attr:`DayMatch.unmatched` with the reason, and the rest of the day is
matched as usual. Members no listed file claims (a file uploaded after the listing was
taken, another day's files) are returned in :attr:`DayMatch.unlisted`.

Delivery keys come from the listing alone (:func:`adapters.codat.source.document_key`),
never from member names, so a change of matching never changes a key.
"""

from __future__ import annotations

import re
import unicodedata
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import PurePosixPath

from adapters.codat.layout import ListedFile

#: duplicate-numbering schemes, applied to the stem (the name without its extension)
NUMBERING: tuple[re.Pattern[str], ...] = (
    re.compile(r"^(?P<stem>.+?) ?\((?P<n>\d{1,4})\)$"),  # "name (2)", "name(2)"
    re.compile(r"^(?P<stem>.+)_(?P<n>\d{1,4})$"),  # "name_1"
    re.compile(r"^(?P<stem>.+)-(?P<n>\d{1,4})$"),  # "name-2"
)


@dataclass(frozen=True, slots=True)
class Member:
    """One archive member name, split into folders and base name."""

    name: str
    folders: tuple[str, ...]
    base: str

    @classmethod
    def parse(cls, name: str) -> Member:
        parts = [p for p in re.split(r"[\\/]", unicodedata.normalize("NFC", name)) if p not in ("", ".")]
        return cls(name, tuple(parts[:-1]), parts[-1] if parts else name)

    def unnumbered(self) -> list[tuple[str, int]]:
        """Every ``(base name, number)`` this name reads as under some numbering scheme."""
        path = PurePosixPath(self.base)
        stem, suffix = (path.stem, path.suffix) if path.stem else (self.base, "")
        readings: list[tuple[str, int]] = []
        for scheme in NUMBERING:
            found = scheme.match(stem)
            if found is not None:
                readings.append((found["stem"] + suffix, int(found["n"])))
        return readings


@dataclass
class DayMatch:
    """The outcome of matching one archive's members to the files listed for its date."""

    members: dict[ListedFile, str] = field(default_factory=dict)
    unmatched: dict[ListedFile, str] = field(default_factory=dict)  # file -> why it has no member
    unlisted: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def complete(self) -> bool:
        return not self.unmatched


@dataclass(frozen=True, slots=True)
class _Claim:
    member: Member
    number: int | None  # None: the base name is the listed name itself

    def rank(self) -> int:
        return 0 if self.number is None else self.number


def match_day(files: Sequence[ListedFile], names: Iterable[str]) -> DayMatch:
    """Match every listed file of one date to a member of that date's archive (see module doc).

    ``files`` are *all* files the listing puts on the date (not only the wanted ones), so
    numbering lines up; ``names`` are the archive's file members (refused ones included:
    a refused member still shows which file it would have been).
    """
    result = DayMatch()
    listed_names = {_nfc(f.file_name) for f in files}
    claims: dict[str, list[_Claim]] = defaultdict(list)
    for name in names:
        member = Member.parse(name)
        if member.base in listed_names:
            claims[member.base].append(_Claim(member, None))
            continue
        targets = sorted({(base, n) for base, n in member.unnumbered() if base in listed_names})
        if len(targets) == 1:
            claims[targets[0][0]].append(_Claim(member, targets[0][1]))
        else:
            result.unlisted.append(name)
            if len(targets) > 1:
                result.notes.append(
                    f"member {name!r} reads as a numbered copy of several listed names "
                    f"({', '.join(t[0] for t in targets)}); left unmatched"
                )
    by_name: dict[str, list[ListedFile]] = defaultdict(list)
    for listed in files:
        by_name[_nfc(listed.file_name)].append(listed)
    for name, group in by_name.items():
        _match_name(name, group, claims.pop(name, []), result)
    for leftover in claims.values():
        result.unlisted += [c.member.name for c in leftover]
    return result


def _nfc(name: str) -> str:
    """Names compare in Unicode NFC: macOS writes ``ä`` decomposed, most systems composed."""
    return unicodedata.normalize("NFC", name)


def _source_type_of(member: Member, types: set[str]) -> str | None:
    """The listed source type one of the member's folders names, if exactly one does."""
    named = {folder.casefold() for folder in member.folders} & types
    return next(iter(named)) if len(named) == 1 else None


def _match_name(name: str, files: list[ListedFile], claims: list[_Claim], result: DayMatch) -> None:
    types = {f.source_type.casefold() for f in files if f.source_type}
    typed: dict[str | None, list[_Claim]] = defaultdict(list)
    for claim in claims:
        typed[_source_type_of(claim.member, types)].append(claim)
    if set(typed) - {None}:
        # Folders name source types: each source type is its own group; members in no such
        # folder (and files whose type has no folder) are matched among themselves.
        by_type: dict[str | None, list[ListedFile]] = defaultdict(list)
        for listed in files:
            key = listed.source_type.casefold() if listed.source_type else None
            by_type[key if key in typed else None].append(listed)
        leftovers = typed.pop(None, [])
        for key, group in by_type.items():
            _pair(name, group, typed.pop(key, []) if key is not None else leftovers, result)
        for rest in typed.values():
            result.unlisted += [c.member.name for c in rest]
        if None not in by_type:
            result.unlisted += [c.member.name for c in leftovers]
        return
    _pair(name, files, claims, result)


def _pair(name: str, files: list[ListedFile], claims: list[_Claim], result: DayMatch) -> None:
    """Pair files and members of one name (and source type) in upload order."""
    files = sorted(files, key=ListedFile.order)
    claims = sorted(claims, key=lambda c: (c.rank(), c.member.name))
    if not claims:
        for listed in files:
            result.unmatched[listed] = f"no member of the archive is {name!r} or a numbered copy of it"
        return
    if len(claims) < len(files):
        shown = ", ".join(repr(c.member.name) for c in claims[:5])
        for listed in files:
            result.unmatched[listed] = (
                f"ambiguous: {len(files)} files named {name!r} are listed but the archive holds "
                f"{len(claims)} ({shown}), so which is missing cannot be told"
            )
        return
    used = claims[: len(files)]
    ranks = [c.rank() for c in used]
    if len(files) > 1 and len(set(ranks)) < len(ranks):
        shown = ", ".join(repr(c.member.name) for c in used[:5])
        for listed in files:
            result.unmatched[listed] = (
                f"ambiguous: {len(files)} files named {name!r} and members {shown} carry no "
                "numbering or folder that tells them apart"
            )
        return
    for listed, claim in zip(files, used, strict=False):
        result.members[listed] = claim.member.name
    result.unlisted += [c.member.name for c in claims[len(files) :]]
    if len(files) > 1:
        result.notes.append(
            f"{len(files)} files named {name!r} matched to "
            f"{', '.join(repr(c.member.name) for c in used)} in upload order"
        )
