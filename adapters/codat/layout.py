"""What Codat's listing says about a file, and which download date may hold it.

Codat's API spec does not describe the download archive, nor which clock ``date``
selects by: the portal docs only call it "a zip of the files uploaded that day". A
listed ``uploaded`` value may be UTC, carry an offset, or be a zone-less local time,
so three readings of "the files uploaded on D" are plausible (:class:`DateRule`):

* ``raw``: the date part of ``uploaded`` exactly as Codat sends it;
* ``utc``: the UTC date of the instant;
* ``local``: the date in the company's zone (``local_timezone``).

The adapter does not pick one on faith: :mod:`adapters.codat.days` tries the readings
that group the listing differently and keeps the one the archives bear out. How the
members of one archive are matched to listed files is :mod:`adapters.codat.matching`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from enum import StrEnum


class DateRule(StrEnum):
    """How the download endpoint's ``date`` may select files (see the module docstring)."""

    RAW = "raw"
    UTC = "utc"
    LOCAL = "local"


#: the order readings are preferred in when several fit the archives equally well
DATE_RULES: tuple[DateRule, ...] = (DateRule.RAW, DateRule.UTC, DateRule.LOCAL)


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
        """The raw date part: the day this file's delivery summary is kept under."""
        return archive_date(self.uploaded_raw)

    def day(self, rule: DateRule, zone: tzinfo) -> str:
        """The download date that holds this file if Codat selects by ``rule``."""
        if rule is DateRule.RAW:
            return self.archive_date
        moment = self.uploaded.astimezone(UTC if rule is DateRule.UTC else zone)
        return moment.date().isoformat()

    def order(self) -> tuple[datetime, int]:
        """Upload order: the instant, ties broken by the position in the list response."""
        return (self.uploaded, self.position)


def archive_date(uploaded_raw: str) -> str:
    """The calendar date (YYYY-MM-DD) a raw ``uploaded`` value carries."""
    return uploaded_raw.strip()[:10]
