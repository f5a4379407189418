"""Finding listed files in Codat's day archives, whatever clock ``date`` selects by.

:class:`DayReader` downloads the archives a set of wanted files needs and matches their
members to the listing (:func:`adapters.codat.matching.match_day`). Which files an
archive holds depends on how Codat reads ``date`` (:class:`~adapters.codat.layout.DateRule`),
which is undocumented, so each reading that groups the listing differently is tried
(most runs need one: readings differ only when a zone-less or offset time falls near
midnight) and the one whose archives account for the most wanted files, with the fewest
unexplained members, is kept. An empty day may be an empty zip, a 204 or a 404: all three
read as an archive with no members.

Nothing here fails the run for one bad item. A wanted file no archive accounts for, a
member refused for safety, or a day whose archive is unusable as a whole becomes a
:class:`Refusal`, which names the company, the date, the file or member and the reason
(for a file that was not found: the first members the archive holds).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from adapters.codat.archive import ArchiveError, SafeArchive, UnsafeArchiveError
from adapters.codat.client import ArchiveTooLarge, CodatFilesClient
from adapters.codat.layout import DATE_RULES, DateRule, ListedFile
from adapters.codat.matching import DayMatch, match_day
from adapters.failures import AdapterError, FailureClass
from adapters.retry import Retrier
from adapters.runtime import LoggerLike

#: how many member names a refusal shows
SHOWN_MEMBERS = 8


@dataclass(frozen=True, slots=True)
class Refusal:
    """One item the adapter will not deliver this run, and why; the run goes on without it.

    ``listed`` is the listed file concerned, or ``None`` for a refused member no listed
    file claims (it is still reported, so nothing disappears silently).
    """

    company_id: str
    day: str
    reason: str
    listed: ListedFile | None = None
    member: str | None = None
    #: True when refused for safety (traversal, link, bomb...), False when the archive and
    #: the listing do not agree (a layout the adapter cannot read, an unusable download)
    unsafe: bool = False

    def describe(self) -> str:
        what = f"file {self.listed.file_name!r} (uploaded {self.listed.uploaded_raw})" if self.listed else ""
        if self.member is not None:
            what = f"{what}, member {self.member!r}" if what else f"member {self.member!r}"
        return f"codat company {self.company_id}, archive of {self.day}: {what}: {self.reason}"


@dataclass(frozen=True, slots=True)
class Located:
    """A wanted file and where its bytes are."""

    listed: ListedFile
    day: str
    archive: SafeArchive
    member: str


@dataclass
class DayLocations:
    """What :meth:`DayReader.locate` found: files with their members, refusals, the rule kept."""

    found: list[Located] = field(default_factory=list)
    refusals: list[Refusal] = field(default_factory=list)
    rule: DateRule = DateRule.RAW
    notes: list[str] = field(default_factory=list)


@dataclass
class _Reading:
    """What one date rule makes of the archives."""

    rule: DateRule
    matches: dict[str, tuple[SafeArchive, DayMatch]] = field(default_factory=dict)
    broken: dict[str, ArchiveError] = field(default_factory=dict)
    missing: int = 0
    surplus: int = 0

    def score(self) -> tuple[int, int]:
        return (self.missing, self.surplus)


class DayReader:
    """Downloads (once each) and reads the day archives of one company for one run."""

    def __init__(
        self,
        client: CodatFilesClient,
        company_id: str,
        *,
        retrier: Retrier,
        workdir: Path,
        logger: LoggerLike | None = None,
    ) -> None:
        self.client = client
        self.company_id = company_id
        self.retrier = retrier
        self.workdir = workdir
        self.logger = logger
        self._archives: dict[str, SafeArchive | ArchiveError] = {}

    @property
    def downloads(self) -> int:
        return len(self._archives)

    def label(self, day: str) -> str:
        return f"codat company {self.company_id}, archive of {day}"

    def archive(self, day: str) -> SafeArchive | ArchiveError:
        """The archive of ``day``, downloaded on first use; an unusable one as its error."""
        if day not in self._archives:
            self._archives[day] = self._download(day)
        return self._archives[day]

    def _download(self, day: str) -> SafeArchive | ArchiveError:
        label = self.label(day)
        path = self.workdir / f"{day}.zip"
        try:
            size = self.retrier.call(
                lambda: self.client.download_archive(self.company_id, day, path), step="codat.download_files"
            )
        except AdapterError as exc:
            if exc.kind is not FailureClass.NOT_FOUND:
                raise
            # The listing of this company just answered, so a 404 here is "no files that day".
            return SafeArchive.empty(path, label=label)
        except ArchiveTooLarge as exc:
            return ArchiveError(str(exc), archive=label)
        if size == 0:
            return SafeArchive.empty(path, label=label)
        try:
            archive = SafeArchive(path, label=label, limits=self.client.settings.archive_limits)
        except ArchiveError as exc:
            return exc
        if self.logger is not None:
            self.logger.info(
                f"{label}: {size} bytes, {len(archive.members)} members"
                + (f", {len(archive.refused)} refused" if archive.refused else ""),
                step="codat.download_files",
                detail={"company_id": self.company_id, "date": day, "bytes": size},
            )
        return archive

    def locate(
        self,
        listed: Sequence[ListedFile],
        wanted: Sequence[ListedFile],
    ) -> DayLocations:
        """Where each wanted file's bytes are, under the date rule the archives bear out."""
        if not wanted:
            return DayLocations()
        zone = self.client.settings.zone
        readings: list[_Reading] = []
        groupings: set[tuple[str, ...]] = set()
        for rule in DATE_RULES:
            grouping = tuple(f.day(rule, zone) for f in listed)
            if grouping in groupings:
                continue
            groupings.add(grouping)
            reading = self._read(rule, listed, wanted)
            readings.append(reading)
            if reading.score() == (0, 0):
                break
        best = min(readings, key=_Reading.score)  # min() keeps the first of equals: the preferred rule
        return self._outcome(best, wanted, tried=[r.rule for r in readings])

    def _read(self, rule: DateRule, listed: Sequence[ListedFile], wanted: Sequence[ListedFile]) -> _Reading:
        zone = self.client.settings.zone
        reading = _Reading(rule)
        on_day: dict[str, list[ListedFile]] = defaultdict(list)
        for listed_file in listed:
            on_day[listed_file.day(rule, zone)].append(listed_file)
        wanted_on_day: dict[str, list[ListedFile]] = defaultdict(list)
        for wanted_file in wanted:
            wanted_on_day[wanted_file.day(rule, zone)].append(wanted_file)
        for day in sorted(wanted_on_day):
            archive = self.archive(day)
            wanted_here = wanted_on_day[day]
            if isinstance(archive, ArchiveError):
                reading.broken[day] = archive
                reading.missing += len(wanted_here)
                continue
            match = match_day(on_day[day], archive.names)
            reading.matches[day] = (archive, match)
            reading.missing += sum(1 for f in wanted_here if f in match.unmatched)
            reading.surplus += sum(1 for name in match.unlisted if name not in archive.refused)
        return reading

    def _outcome(
        self, reading: _Reading, wanted: Sequence[ListedFile], *, tried: list[DateRule]
    ) -> DayLocations:
        zone = self.client.settings.zone
        out = DayLocations(rule=reading.rule)
        if len(tried) > 1:
            out.notes.append(
                f"date readings tried: {', '.join(tried)}; kept {reading.rule!s} "
                f"({reading.missing} wanted files unaccounted for, {reading.surplus} unlisted members)"
            )
        wanted_set = set(wanted)
        for day, error in reading.broken.items():
            for listed in wanted:
                if listed.day(reading.rule, zone) == day:
                    unsafe = isinstance(error, UnsafeArchiveError)
                    out.refusals.append(
                        Refusal(self.company_id, day, str(error), listed, error.member, unsafe)
                    )
        for day, (archive, match) in reading.matches.items():
            out.notes += [f"{self.label(day)}: {note}" for note in match.notes]
            for listed, reason in match.unmatched.items():
                if listed in wanted_set:
                    out.refusals.append(Refusal(self.company_id, day, f"{reason}; {_holds(archive)}", listed))
            for listed, member in match.members.items():
                if listed not in wanted_set:
                    continue
                if member in archive.refused:
                    reason = archive.refused[member]
                    out.refusals.append(Refusal(self.company_id, day, reason, listed, member, True))
                else:
                    out.found.append(Located(listed, day, archive, member))
            for name in match.unlisted:
                if name in archive.refused:
                    out.refusals.append(
                        Refusal(self.company_id, day, archive.refused[name], None, name, True)
                    )
        out.found.sort(key=lambda located: (located.day, located.listed.order()))
        return out


def _holds(archive: SafeArchive) -> str:
    names = archive.names
    if not names:
        return "the archive is empty"
    shown = ", ".join(repr(n) for n in names[:SHOWN_MEMBERS])
    more = f" and {len(names) - SHOWN_MEMBERS} more" if len(names) > SHOWN_MEMBERS else ""
    return f"the archive holds {shown}{more}"
