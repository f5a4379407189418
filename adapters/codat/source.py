"""Codat Files as a document source: one company's files that are not yet delivered.

Codat offers no "since" filter, no file id and no per-file download, so a fetch is:
list every file (one unpaginated call); choose those uploaded at or after the cursor
and, with a :class:`~adapters.codat.delivered.DeliveryRecord` (per-day summaries), every
file not yet delivered whatever its age, so a file listed days behind the cursor still
lands; download the archives of their dates and find each file in them
(:class:`~adapters.codat.days.DayReader`, any layout, any reading of ``date``); and
yield each found file as a :class:`DocumentItem` whose ``open()`` streams the member
out of the archive.

A file that cannot be delivered this run (its member refused for safety, or the archive
does not account for it) is a :class:`~adapters.codat.days.Refusal`: logged at error,
counted in :attr:`CodatFilesSource.refusals`, passed to ``on_refusal``, and yielded as
a :class:`~adapters.records.RefusedItem` (refetch hint: its day), which the sync driver
keeps in quarantine before the cursor may pass it. The file stays undelivered, so the
next run tries it again however far the cursor has moved, and its delivery releases
the quarantine entry. The rest of the run goes on. Only when *every*
wanted file fails for a layout reason (nothing refused for safety) does the fetch
raise :class:`ArchiveLayoutError`: that is a systematic mismatch, not one bad item.

The list cannot be ordered by upload *instant* across dates, so the source says
``UNORDERED``; it yields day by day, and as each day's last file is handed over it
settles (:class:`~adapters.protocol.Settling`) at the earliest upload time of the files
still to come, so the sync driver can checkpoint per finished day (at most every
``config.run.checkpoint_every_seconds``) and stop at its time budget with the finished
days committed. The rule is exact, not a guess from dates: everything wanted is
listed and located before the first item is yielded, so the source knows every cursor
it has still to yield. A file uploaded before the run's lower bound (a late one) is
yielded without a cursor, so the driver neither drops it nor lets it move the watermark.

Archives stay on disk until :meth:`CodatFilesSource.close` (or the end of a ``with``
block), not just until the generator finishes: sinks may read a document's bytes at
their final flush, after the last item was yielded.
"""

from __future__ import annotations

import shutil
import tempfile
import weakref
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta, tzinfo
from functools import partial
from pathlib import Path
from typing import IO

from codat_files.models import shared

from adapters.codat.archive import ArchiveLayoutError, SafeArchive
from adapters.codat.client import CodatFilesClient
from adapters.codat.days import DayReader, Located, Refusal
from adapters.codat.delivered import DeliveryRecord
from adapters.codat.filetypes import media_type_for
from adapters.codat.layout import DATE_RULES, ListedFile
from adapters.cursor import CursorError, parse_timestamp
from adapters.failures import Classifier
from adapters.protocol import Ordering
from adapters.records import DocumentItem, RefusedItem
from adapters.retry import Retrier
from adapters.runtime import LoggerLike


class CodatListError(ValueError):
    """A list entry the adapter cannot use (no file name, unparseable time); names the entry."""


def document_key(company_id: str, listed: ListedFile) -> str:
    """Stable identity: Codat has no file id, so company + sourceType + uploaded + fileName."""
    return f"codat:{company_id}:{listed.source_type or ''}:{listed.uploaded_raw}:{listed.file_name}"


def parse_entry(entry: shared.File, position: int, *, company_id: str, default_tz: tzinfo) -> ListedFile:
    """One list entry as a :class:`ListedFile`; :class:`CodatListError` names an unusable one."""
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
    return ListedFile(name, display, source_type, raw, uploaded, position)


def parse_listing(files: list[shared.File], *, company_id: str, default_tz: tzinfo) -> list[ListedFile]:
    return [
        parse_entry(entry, position, company_id=company_id, default_tz=default_tz)
        for position, entry in enumerate(files)
    ]


#: Codat lists some ``uploaded`` values to the millisecond and others (zone-less ones among
#: them) to the whole second, so a file uploaded later in the same second can read as up to
#: a second *before* a stored millisecond cursor. The sync driver re-reads this much before
#: the cursor; files delivered already are skipped by the sink's ledger.
LOOKBACK = timedelta(seconds=1)


class CodatFilesSource:
    """Source of one company's uploaded files (``DocumentItem`` per file).

    ``retrier`` wraps every request (built with :data:`adapters.codat.errors.classify`
    or :func:`~adapters.codat.errors.make_classifier`). ``workdir`` is where archives
    are kept during a run (a private temporary directory by default). ``delivered``
    selects by what is not yet delivered (see the module docstring); ``on_refusal`` is
    called with each :class:`Refusal` after it is logged: the quarantine hook. It runs
    before any item is yielded, so a store that writes durably inside it is durable before
    the cursor can move; if it raises, the run fails and the cursor stays.
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
        delivered: DeliveryRecord | None = None,
        on_refusal: Callable[[Refusal], None] | None = None,
    ) -> None:
        self.client = client
        self.delivered = delivered
        self.on_refusal = on_refusal
        #: every refusal of this source's runs, in order
        self.refusals: list[Refusal] = []
        self.lookback = lookback
        self.company_id = company_id
        self.retrier = retrier
        self.logger = logger
        self._name = stream or f"codat_files_{company_id}"
        self._settled: datetime | None = None
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

    def settled_cursor(self) -> datetime | None:
        """Below this upload time, every file the current fetch will yield has been yielded.

        ``None`` until the first day is finished. Moves only at day boundaries (each
        finished day is one checkpoint candidate); after the last day it is the greatest
        upload time yielded, the same watermark a finished run commits.
        """
        return self._settled

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

    def fetch_since(self, cursor: datetime | None) -> Iterator[DocumentItem | RefusedItem]:
        if not self._finalizer.alive:
            raise RuntimeError(f"{self.name}: source is closed")
        listed = self.list_files()
        if self.delivered is not None:
            selection = self.delivered.select(listed, floor=cursor)
            # Undelivered files of any age, plus (as without a record) everything at or
            # after the cursor: a backfill re-reads, and the sink skips what it has.
            undelivered = set(selection.wanted)
            wanted = [f for f in listed if f in undelivered or cursor is None or f.uploaded >= cursor]
            detail = {
                "settled_by_summary": selection.settled_by_summary,
                "summary_rows_written": selection.rows_written,
            }
        else:
            wanted = [f for f in listed if cursor is None or f.uploaded >= cursor]
            detail = {}
        run_dir = Path(tempfile.mkdtemp(prefix="run-", dir=self._workdir))
        reader = DayReader(
            self.client, self.company_id, retrier=self.retrier, workdir=run_dir, logger=self.logger
        )
        located = reader.locate(listed, wanted)
        if self.logger is not None:
            self.logger.info(
                f"{self.name}: {len(listed)} files listed, {len(wanted)} to deliver, "
                f"{len(located.found)} found in {reader.downloads} archives (date read as {located.rule})",
                step="codat.list_files",
                detail={"company_id": self.company_id, "files": len(listed), "wanted": len(wanted), **detail},
            )
            for note in located.notes:
                self.logger.info(note, step="codat.match_archive", detail={"company_id": self.company_id})
        refused = [self._refuse(refusal, cursor) for refusal in located.refusals]
        file_refusals = [r for r in located.refusals if r.listed is not None]
        if wanted and not located.found and file_refusals and not any(r.unsafe for r in located.refusals):
            first = file_refusals[0]
            raise ArchiveLayoutError(
                f"none of the {len(wanted)} files to deliver could be found in the archives "
                f"(date read as {', '.join(DATE_RULES)}); first: {first.describe()}",
                archive=f"codat company {self.company_id}",
            )
        self._settled = None
        yield from refused
        items = [self._item(found, cursor) for found in located.found]
        settles = _day_boundaries([found.day for found in located.found], [i.cursor for i in items])
        for item, settled in zip(items, settles, strict=True):
            if settled is not None:
                # Set before the day's last item is handed over: once the consumer holds it,
                # every item below ``settled`` has been yielded.
                self._settled = settled
            yield item

    def _refuse(self, refusal: Refusal, cursor: datetime | None) -> RefusedItem:
        """Log and count ``refusal``, and build the envelope the sync driver quarantines.

        The key is the file's usual delivery key (an unclaimed member gets one naming its
        day and member), so the file's later delivery releases the entry; the refetch
        hint is the day, the only unit Codat can read again.
        """
        self.refusals.append(refusal)
        if self.logger is not None:
            self.logger.error(
                refusal.describe(),
                step="codat.refused",
                detail={
                    "company_id": refusal.company_id,
                    "date": refusal.day,
                    "file": refusal.listed.file_name if refusal.listed else None,
                    "member": refusal.member,
                    "unsafe": refusal.unsafe,
                },
            )
        if self.on_refusal is not None:
            self.on_refusal(refusal)
        listed = refusal.listed
        if listed is not None:
            key = document_key(self.company_id, listed)
            late = cursor is not None and listed.uploaded < cursor
            item_cursor = None if late else listed.uploaded
        else:
            key = f"codat:{self.company_id}:member:{refusal.day}:{refusal.member or '?'}"
            item_cursor = None
        return RefusedItem(
            key=key,
            cursor=item_cursor,
            reason=refusal.describe(),
            stream=self.name,
            refetch={"partition": refusal.day},
        )

    def _item(self, found: Located, cursor: datetime | None) -> DocumentItem:
        listed = found.listed
        late = cursor is not None and listed.uploaded < cursor
        return DocumentItem(
            key=document_key(self.company_id, listed),
            cursor=None if late else listed.uploaded,
            name=listed.file_name,
            media_type=media_type_for(listed.file_name),
            open=partial(_open_member, found.archive, found.member),
            size=found.archive.size(found.member),
            metadata={
                "company_id": self.company_id,
                "file_name": listed.file_name,
                "display_name": listed.display_name,
                "source_type": listed.source_type,
                "uploaded": listed.uploaded_raw,
                "archive_date": found.day,
                "archive_member": found.member,
                "late": late,
            },
            stream=self.name,
        )


def _day_boundaries(days: list[str], cursors: list[datetime | None]) -> list[datetime | None]:
    """Per position: the settled cursor once it is yielded, if it is the last of its day, else None.

    At a day's end that is the earliest cursor of everything after it (what is still to
    come bounds what may be committed); after the last day, the greatest cursor of all.
    A day whose remaining files all lack a cursor (late files) settles at the greatest
    cursor so far, since nothing still to come can lower it.
    """
    settles: list[datetime | None] = [None] * len(days)
    earliest_after: datetime | None = None
    for i in range(len(days) - 1, -1, -1):
        if i + 1 < len(days) and days[i + 1] != days[i]:
            settles[i] = earliest_after
        cursor = cursors[i]
        if cursor is not None and (earliest_after is None or cursor < earliest_after):
            earliest_after = cursor
    greatest: datetime | None = None
    for i, cursor in enumerate(cursors):
        if cursor is not None and (greatest is None or cursor > greatest):
            greatest = cursor
        last_of_day = i + 1 == len(days) or days[i + 1] != days[i]
        if last_of_day and (settles[i] is None or i + 1 == len(days)):
            settles[i] = greatest
    return settles


def _open_member(archive: SafeArchive, member: str) -> IO[bytes]:
    return archive.open_member(member)
