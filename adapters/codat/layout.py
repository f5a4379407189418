"""How the files of one upload date are named inside Codat's download archive.

Codat's API spec does not describe the archive; its portal docs call it a zip of
the files uploaded that day. The adapter assumes (and the sandbox implements):

* ``GET .../files/download?date=D`` returns the files whose ``uploaded`` value, *as
  Codat sends it*, falls on calendar date ``D`` (the date part of the string, with no
  zone conversion);
* every file is a member at the archive root named by its ``fileName``;
* when several files of that date share a ``fileName``, the earliest upload keeps the
  name and later ones are named ``stem (2).ext``, ``stem (3).ext``... in upload order
  (ties broken by their order in the list response).

If real archives differ, the adapter does not guess: a listed file whose expected
member is missing fails the run with an error naming the date and the file.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import PurePosixPath


@dataclass(frozen=True, slots=True)
class ListedFile:
    """One entry of the list response, with its time parsed and its list position kept."""

    file_name: str
    display_name: str | None
    source_type: str | None
    uploaded_raw: str
    uploaded: datetime  # aware UTC
    position: int

    @property
    def archive_date(self) -> str:
        return archive_date(self.uploaded_raw)


def archive_date(uploaded_raw: str) -> str:
    """The calendar date (YYYY-MM-DD) a raw ``uploaded`` value files under."""
    return uploaded_raw.strip()[:10]


def numbered_name(file_name: str, n: int) -> str:
    """``report.pdf``, ``report (2).pdf``, ``report (3).pdf``...; ``n`` is 1-based."""
    if n <= 1:
        return file_name
    path = PurePosixPath(file_name)
    stem, suffix = (path.stem, path.suffix) if path.stem else (file_name, "")
    parent = file_name[: len(file_name) - len(path.name)]
    return f"{parent}{stem} ({n}){suffix}"


def member_names(files_of_day: Iterable[ListedFile]) -> dict[ListedFile, str]:
    """Member name of every file of one date (pass *all* files of the date, not just new ones)."""
    ordered = sorted(files_of_day, key=lambda f: (f.uploaded, f.position))
    seen: dict[str, int] = {}
    names: dict[ListedFile, str] = {}
    for listed in ordered:
        count = seen.get(listed.file_name, 0) + 1
        seen[listed.file_name] = count
        names[listed] = numbered_name(listed.file_name, count)
    return names
