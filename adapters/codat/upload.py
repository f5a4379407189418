"""Uploading files to a Codat connection: checked before sending, batched, exactly-once.

Codat takes at most 20 files per request, each at most 10 MB and of an allowed type
(:mod:`adapters.codat.filetypes`). Every file is checked before anything is sent; a
file that fails is reported by name (in :class:`UploadResult` and through
``logger.warn``) and the rest go ahead. Accepted files are sent in batches of up to 20,
one request each, through the :class:`~adapters.retry.Retrier`.

Codat's upload has no idempotency key, so a retried or rerun request could store a
file twice. With a :class:`~adapters.ledger.Ledger`, each file's delivery is recorded
server-side (pending before the request, done after); a file found pending - a
previous attempt may or may not have arrived - is first looked for in the company's
file list (same name, uploaded after the pending mark minus clock skew) *and* in that
day's archive, where its bytes must have our size and sha256; only then does it count
as arrived, otherwise it is sent again. A name alone never counts: another uploader's
file often has the same name. The same check runs before a batch is retried within a
run. Each file goes with its stored media type, or the type its extension has in
Codat's table when the stored one is generic (``application/octet-stream``).
"""

from __future__ import annotations

import hashlib
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, tzinfo
from pathlib import Path
from typing import IO, Any

from codat_files.models import shared

from adapters.codat.client import CodatFilesClient
from adapters.codat.days import DayReader
from adapters.codat.filetypes import (
    ALLOWED_TYPES,
    MAX_FILES_PER_REQUEST,
    MAX_UPLOAD_BYTES,
    extension,
    upload_media_type,
)
from adapters.codat.http import UploadPart
from adapters.codat.layout import ListedFile
from adapters.codat.source import CodatListError, parse_entry
from adapters.failures import AdapterError, FailureClass
from adapters.ledger import EntryState, Ledger, LedgerEntry
from adapters.retry import Retrier
from adapters.runtime import LoggerLike

CHUNK = 256 * 1024


@dataclass(frozen=True, slots=True)
class UploadFile:
    """One file to upload; ``open()`` returns a fresh stream each call (it is read twice)."""

    key: str
    name: str
    open: Callable[[], IO[bytes]]
    media_type: str | None = None
    size: int | None = None
    sha256: str | None = None


@dataclass(frozen=True, slots=True)
class Rejection:
    key: str
    name: str
    reason: str


@dataclass
class UploadResult:
    uploaded: list[str] = field(default_factory=list)  # file names sent in this run
    reconciled: list[str] = field(default_factory=list)  # found already uploaded by an earlier attempt
    skipped: list[str] = field(default_factory=list)  # recorded as delivered before
    rejected: list[Rejection] = field(default_factory=list)
    requests: int = 0
    delivered_keys: list[str] = field(default_factory=list)  # every key handled (sent/reconciled/skipped)

    def merge(self, other: UploadResult) -> None:
        self.uploaded += other.uploaded
        self.reconciled += other.reconciled
        self.skipped += other.skipped
        self.rejected += other.rejected
        self.requests += other.requests
        self.delivered_keys += other.delivered_keys


def check_upload(name: str, size: int, *, max_bytes: int = MAX_UPLOAD_BYTES) -> str | None:
    """Why Codat would refuse this file, or ``None``."""
    ext = extension(name)
    if ext not in ALLOWED_TYPES:
        allowed = ", ".join(sorted(ALLOWED_TYPES))
        shown = f".{ext}" if ext else "(no extension)"
        return f"file type {shown} is not accepted by Codat (allowed: {allowed})"
    if size > max_bytes:
        return f"{size} bytes is over Codat's limit of {max_bytes} bytes per file"
    if size == 0:
        return "the file is empty"
    return None


def measure(file: UploadFile) -> tuple[int, str]:
    """Size and sha256, streaming the content once."""
    with file.open() as stream:
        return _digest(stream)


def _digest(stream: IO[bytes]) -> tuple[int, str]:
    digest = hashlib.sha256()
    size = 0
    while chunk := stream.read(CHUNK):
        size += len(chunk)
        digest.update(chunk)
    return size, digest.hexdigest()


def _readable_listing(files: Sequence[shared.File], *, company_id: str, zone: tzinfo) -> list[ListedFile]:
    """The listing, skipping entries without a name or a readable time (they prove nothing)."""
    out: list[ListedFile] = []
    for position, entry in enumerate(files):
        try:
            out.append(parse_entry(entry, position, company_id=company_id, default_tz=zone))
        except CodatListError:
            continue
    return out


@dataclass(frozen=True, slots=True)
class _Checked:
    file: UploadFile
    size: int
    sha256: str


def _chunks(items: Sequence[_Checked], size: int) -> Iterator[Sequence[_Checked]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


class CodatUploader:
    """Uploads files to one company connection; ``ledger`` makes it exactly-once across runs."""

    def __init__(
        self,
        client: CodatFilesClient,
        company_id: str,
        connection_id: str,
        *,
        retrier: Retrier,
        logger: LoggerLike | None = None,
        ledger: Ledger | None = None,
        batch_size: int = MAX_FILES_PER_REQUEST,
        max_bytes: int = MAX_UPLOAD_BYTES,
        skew: timedelta = timedelta(minutes=10),
        settle: float = 2.0,
        sleep: Callable[[float], None] = time.sleep,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        if not 1 <= batch_size <= MAX_FILES_PER_REQUEST:
            raise ValueError(f"batch_size must be 1..{MAX_FILES_PER_REQUEST}, got {batch_size}")
        self.client = client
        self.company_id = company_id
        self.connection_id = connection_id
        self.retrier = retrier
        self.logger = logger
        self.ledger = ledger
        self.batch_size = batch_size
        self.max_bytes = max_bytes
        self.skew = skew
        self.settle = settle
        self.sleep = sleep
        self.now = now

    def upload(self, files: Iterable[UploadFile]) -> UploadResult:
        result = UploadResult()
        accepted: list[_Checked] = []
        for file in files:
            size, sha = measure(file)
            reason = check_upload(file.name, size, max_bytes=self.max_bytes)
            if reason is not None:
                self._reject(result, file, reason)
                continue
            accepted.append(_Checked(file, size, file.sha256 or sha))
        todo = self._skip_delivered(accepted, result)
        for batch in _chunks(todo, self.batch_size):
            self._send_or_split(list(batch), result)
        return result

    def _send_or_split(self, batch: list[_Checked], result: UploadResult) -> None:
        """Send a batch; if Codat refuses it as invalid, find the culprit file by file.

        The pre-checks mirror Codat's documented rules, but Codat validates the whole
        request: one file it refuses for a reason we cannot see would otherwise block the
        other 19. A 400 on a single file rejects that file with Codat's own message.
        """
        try:
            self._send_batch(batch, result)
        except AdapterError as exc:
            if exc.kind is not FailureClass.INVALID or exc.failure.status != 400:
                raise
            if len(batch) == 1:
                self._reject_by_codat(batch[0], exc.failure.message, result)
                return
            if self.logger is not None:
                self.logger.warn(
                    f"codat upload: a batch of {len(batch)} was refused ({exc.failure.message}); "
                    "sending its files one by one",
                    step="codat.upload_files",
                    detail={"files": [c.file.name for c in batch]},
                )
            for checked in batch:
                self._send_or_split([checked], result)

    def _reject_by_codat(self, checked: _Checked, message: str, result: UploadResult) -> None:
        self._reject(result, checked.file, f"refused by Codat: {message}")
        if self.ledger is not None:
            entry = self.ledger.get(checked.file.key)
            if entry is not None:
                # recorded as settled, so reruns do not send it again
                self.ledger.mark_done(entry, {"rejected": message[:500]})

    def _reject(self, result: UploadResult, file: UploadFile, reason: str) -> None:
        result.rejected.append(Rejection(file.key, file.name, reason))
        result.delivered_keys.append(file.key)
        if self.logger is not None:
            self.logger.warn(
                f"codat upload: {file.name!r} rejected: {reason}",
                step="codat.upload_check",
                detail={"file": file.name, "key": file.key, "reason": reason},
            )

    # -- exactly-once bookkeeping -------------------------------------------------------

    def _skip_delivered(self, accepted: list[_Checked], result: UploadResult) -> list[_Checked]:
        if self.ledger is None:
            return accepted
        todo: list[_Checked] = []
        pending: list[tuple[_Checked, LedgerEntry]] = []
        for checked in accepted:
            entry = self.ledger.get(checked.file.key)
            if entry is not None and entry.fingerprint == checked.sha256:
                if entry.state is EntryState.DONE:
                    result.skipped.append(checked.file.name)
                    result.delivered_keys.append(checked.file.key)
                    continue
                pending.append((checked, entry))
                continue
            todo.append(checked)
        if pending:
            self._settle(max(e.attempted_at or e.marked_at for _, e in pending))
            arrived = self._arrived([c for c, _ in pending], min(e.marked_at for _, e in pending))
            for checked, entry in pending:
                if checked.file.key in arrived:
                    self.ledger.mark_done(entry, {"reconciled": True, "uploaded": arrived[checked.file.key]})
                    result.reconciled.append(checked.file.name)
                    result.delivered_keys.append(checked.file.key)
                else:
                    todo.append(checked)
        return todo

    def _settle(self, last_attempt: datetime) -> None:
        """Let a request a killed process had fully sent be processed before looking for it."""
        age = (self.now() - last_attempt).total_seconds()
        if 0 <= age < self.settle:
            self.sleep(self.settle - age)

    def _arrived(self, candidates: Sequence[_Checked], since: datetime) -> dict[str, str]:
        """Which candidates provably arrived already (key -> the listing's ``uploaded``).

        A listed file counts only when it is *ours*: listed with the same name at or
        after the pending mark (minus ``skew``), and its bytes in that day's archive
        have our size and sha256. Another uploader's file of the same name, or a file
        the archive cannot account for, proves nothing, so the candidate is sent again.
        Each arrived file is claimed once, so two pending files of one name are told
        apart by their content.
        """
        if not candidates:
            return {}
        listing = self.retrier.call(lambda: self.client.list_files(self.company_id), step="codat.reconcile")
        listed = _readable_listing(listing, company_id=self.company_id, zone=self.client.settings.zone)
        names = {c.file.name for c in candidates}
        bound = since - self.skew
        recent = [f for f in listed if f.file_name in names and f.uploaded >= bound]
        if not recent:
            return {}
        with tempfile.TemporaryDirectory(prefix="codat-reconcile-") as workdir:
            reader = DayReader(
                self.client, self.company_id, retrier=self.retrier, workdir=Path(workdir), logger=self.logger
            )
            located = reader.locate(listed, recent)
            arrived_content: dict[tuple[str, int, str], list[str]] = defaultdict(list)
            for found in located.found:
                with found.archive.open_member(found.member) as stream:
                    size, sha = _digest(stream)
                arrived_content[(found.listed.file_name, size, sha)].append(found.listed.uploaded_raw)
        arrived: dict[str, str] = {}
        for checked in candidates:
            times = arrived_content.get((checked.file.name, checked.size, checked.sha256))
            if times:
                arrived[checked.file.key] = times.pop(0)
        unproven = [c.file.name for c in candidates if c.file.key not in arrived]
        if unproven and self.logger is not None:
            self.logger.warn(
                f"codat upload: {len(unproven)} pending files not found with their content "
                f"({len(recent)} same-named files listed since the attempt); sending them again",
                step="codat.reconcile",
                detail={"files": unproven[:20], "listed_same_name": len(recent)},
            )
        return arrived

    # -- sending ------------------------------------------------------------------------

    def _send_batch(self, batch: list[_Checked], result: UploadResult) -> None:
        entries: dict[str, LedgerEntry] = {}
        if self.ledger is not None:
            for checked in batch:
                entries[checked.file.key] = self.ledger.mark_pending(
                    checked.file.key,
                    fingerprint=checked.sha256,
                    detail={"name": checked.file.name, "size": checked.size, "company_id": self.company_id},
                )
        state: dict[str, Any] = {"attempts": 0, "remaining": batch, "reconciled": []}
        started = min((e.marked_at for e in entries.values()), default=self.now())

        def attempt() -> None:
            remaining: list[_Checked] = state["remaining"]
            if state["attempts"]:
                # The previous attempt may have stored some files before failing.
                arrived = self._arrived(remaining, started)
                state["reconciled"] += [c for c in remaining if c.file.key in arrived]
                remaining = [c for c in remaining if c.file.key not in arrived]
                state["remaining"] = remaining
            state["attempts"] += 1
            if not remaining:
                return
            streams = [c.file.open() for c in remaining]
            try:
                parts: list[UploadPart] = [
                    (c.file.name, stream, upload_media_type(c.file.name, c.file.media_type))
                    for c, stream in zip(remaining, streams, strict=True)
                ]
                result.requests += 1
                self.client.upload(self.company_id, self.connection_id, parts)
            finally:
                for stream in streams:
                    stream.close()

        self.retrier.call(attempt, step="codat.upload_files")
        reconciled_keys = {c.file.key for c in state["reconciled"]}
        for checked in batch:
            key = checked.file.key
            if key in reconciled_keys:
                result.reconciled.append(checked.file.name)
            else:
                result.uploaded.append(checked.file.name)
            result.delivered_keys.append(key)
            if self.ledger is not None:
                self.ledger.mark_done(
                    entries[key], {"batch_size": len(batch), "reconciled": key in reconciled_keys}
                )
        if self.logger is not None:
            self.logger.info(
                f"codat upload: {len(batch)} files to company {self.company_id} "
                f"connection {self.connection_id}",
                step="codat.upload_files",
                detail={"files": [c.file.name for c in batch][:20], "attempts": state["attempts"]},
            )
