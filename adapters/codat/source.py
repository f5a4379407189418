"""Codat Files as a document source: one company's files uploaded at or after a cursor.

Codat offers no "since" filter, no file id and no per-file download, so a fetch is:
list every file (one unpaginated call), keep those uploaded at or after the cursor,
download one archive per affected date (streamed to a temporary file), check the
archive (:mod:`adapters.codat.archive`), and yield each wanted file as a
:class:`DocumentItem` whose ``open()`` streams the member out of the archive.

The list cannot be ordered by upload *instant* across dates (dates are taken from the
times as Codat sends them, some zone-less), so the source says ``UNORDERED`` and the
sync driver commits the watermark only after the whole run.

Archives stay on disk until :meth:`CodatFilesSource.close` (or the end of a ``with``
block), not just until the generator finishes: sinks may read a document's bytes at
their final flush, after the last item was yielded.
"""

from __future__ import annotations

import shutil
import tempfile
import weakref
from collections import defaultdict
from collections.abc import Iterator
from datetime import datetime, timedelta, tzinfo
from functools import partial
from pathlib import Path
from typing import IO

from codat_files.models import shared

from adapters.codat.archive import ArchiveLayoutError, SafeArchive
from adapters.codat.client import CodatFilesClient
from adapters.codat.filetypes import media_type_for
from adapters.codat.layout import ListedFile, member_names
from adapters.cursor import CursorError, parse_timestamp
from adapters.failures import Classifier
from adapters.protocol import Ordering
from adapters.records import DocumentItem
from adapters.retry import Retrier
from adapters.runtime import LoggerLike


class CodatListError(ValueError):
    """A list entry the adapter cannot use (no file name, unparseable time); names the entry."""


def document_key(company_id: str, listed: ListedFile) -> str:
    """Stable identity: Codat has no file id, so company + sourceType + uploaded + fileName."""
    return f"codat:{company_id}:{listed.source_type or ''}:{listed.uploaded_raw}:{listed.file_name}"


def parse_listing(files: list[shared.File], *, company_id: str, default_tz: tzinfo) -> list[ListedFile]:
    out: list[ListedFile] = []
    for position, entry in enumerate(files):
        name = entry.file_name if isinstance(entry.file_name, str) else None
        raw = entry.uploaded if isinstance(entry.uploaded, str) else None
        if not name:
            raise CodatListError(
                f"codat company {company_id}: list entry #{position} (uploaded {raw!r}) has no fileName"
            )
        if not raw:
            raise CodatListError(f"codat company {company_id}: file {name!r} has no 'uploaded' time")
        try:
            uploaded = parse_timestamp(raw, default_tz=default_tz)
        except CursorError as exc:
            raise CodatListError(f"codat company {company_id}: file {name!r}: {exc}") from exc
        display = entry.display_name if isinstance(entry.display_name, str) else None
        source_type = entry.source_type if isinstance(entry.source_type, str) else None
        out.append(ListedFile(name, display, source_type, raw, uploaded, position))
    return out


#: Codat lists some ``uploaded`` values to the millisecond and others (zone-less ones among
#: them) to the whole second, so a file uploaded later in the same second can read as up to
#: a second *before* a stored millisecond cursor. The sync driver re-reads this much before
#: the cursor; files delivered already are skipped by the sink's ledger.
LOOKBACK = timedelta(seconds=1)


class CodatFilesSource:
    """Source of one company's uploaded files (``DocumentItem`` per file).

    ``retrier`` wraps every request (built with :data:`adapters.codat.errors.classify`
    or :func:`~adapters.codat.errors.make_classifier`). ``workdir`` is where archives
    are kept during a run (a private temporary directory by default).
    """

    def __init__(
        self,
        client: CodatFilesClient,
        company_id: str,
        *,
        retrier: Retrier,
        logger: LoggerLike | None = None,
        stream: str | None = None,
        workdir: Path | None = None,
        lookback: timedelta = LOOKBACK,
    ) -> None:
        self.client = client
        self.lookback = lookback
        self.company_id = company_id
        self.retrier = retrier
        self.logger = logger
        self._name = stream or f"codat_files_{company_id}"
        self._workdir = Path(tempfile.mkdtemp(prefix="codat-", dir=workdir))
        self._finalizer = weakref.finalize(self, shutil.rmtree, self._workdir, True)

    @property
    def name(self) -> str:
        return self._name

    @property
    def ordering(self) -> Ordering:
        return Ordering.UNORDERED

    @property
    def classifier(self) -> Classifier:
        return self.retrier.classifier

    def close(self) -> None:
        """Delete the downloaded archives; documents already yielded can no longer be opened."""
        self._finalizer()

    def __enter__(self) -> CodatFilesSource:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def list_files(self) -> list[ListedFile]:
        files = self.retrier.call(lambda: self.client.list_files(self.company_id), step="codat.list_files")
        return parse_listing(files, company_id=self.company_id, default_tz=self.client.settings.zone)

    def fetch_since(self, cursor: datetime | None) -> Iterator[DocumentItem]:
        if not self._finalizer.alive:
            raise RuntimeError(f"{self.name}: source is closed")
        listed = self.list_files()
        by_date: dict[str, list[ListedFile]] = defaultdict(list)
        for entry in listed:
            by_date[entry.archive_date].append(entry)
        wanted_dates = sorted({f.archive_date for f in listed if cursor is None or f.uploaded >= cursor})
        if self.logger is not None:
            self.logger.info(
                f"{self.name}: {len(listed)} files listed, {len(wanted_dates)} upload dates to download",
                step="codat.list_files",
                detail={"company_id": self.company_id, "files": len(listed), "dates": wanted_dates[:50]},
            )
        run_dir = Path(tempfile.mkdtemp(prefix="run-", dir=self._workdir))
        for day in wanted_dates:
            yield from self._day(day, by_date[day], cursor, run_dir)

    def _day(
        self, day: str, files_of_day: list[ListedFile], cursor: datetime | None, run_dir: Path
    ) -> Iterator[DocumentItem]:
        label = f"codat company {self.company_id}, archive of {day}"
        path = run_dir / f"{day}.zip"
        size = self.retrier.call(
            lambda: self.client.download_archive(self.company_id, day, path), step="codat.download_files"
        )
        archive = SafeArchive(path, label=label, limits=self.client.settings.archive_limits)
        names = member_names(files_of_day)
        wanted = [f for f in files_of_day if cursor is None or f.uploaded >= cursor]
        missing = [f for f in wanted if names[f] not in archive.members]
        if missing:
            first = missing[0]
            raise ArchiveLayoutError(
                f"listed file {first.file_name!r} (uploaded {first.uploaded_raw}) is not in the archive "
                f"as {names[first]!r}" + (f"; {len(missing) - 1} more missing" if len(missing) > 1 else ""),
                archive=label,
            )
        if self.logger is not None:
            self.logger.info(
                f"{label}: {size} bytes, {len(archive.members)} members, {len(wanted)} wanted",
                step="codat.download_files",
                detail={"company_id": self.company_id, "date": day, "bytes": size, "wanted": len(wanted)},
            )
        for listed in sorted(wanted, key=lambda f: (f.uploaded, f.position)):
            member = names[listed]
            yield DocumentItem(
                key=document_key(self.company_id, listed),
                cursor=listed.uploaded,
                name=listed.file_name,
                media_type=media_type_for(listed.file_name),
                open=partial(_open_member, archive, member),
                size=archive.size(member),
                metadata={
                    "company_id": self.company_id,
                    "file_name": listed.file_name,
                    "display_name": listed.display_name,
                    "source_type": listed.source_type,
                    "uploaded": listed.uploaded_raw,
                    "archive_member": member,
                },
                stream=self.name,
            )


def _open_member(archive: SafeArchive, member: str) -> IO[bytes]:
    return archive.open_member(member)
