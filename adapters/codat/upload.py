"""Uploading files to a Codat connection: checked before sending, batched, exactly-once.

Codat takes at most 20 files per request, each at most 10 MB and of an allowed type
(:mod:`adapters.codat.filetypes`). Every file is checked before anything is sent; a
file that fails is reported by name (in :class:`UploadResult` and through
``logger.warn``) and the rest go ahead. Accepted files are sent in requests of up to
20, up to ``concurrency`` requests in flight, through the
:class:`~adapters.retry.Retrier`.

Codat's upload has no idempotency key, so a retried or rerun request could store a
file twice. Every upload therefore goes through the delivery core
(:class:`~adapters.delivery.core.ExactlyOnce`, the same one the Nuntiq document sink
uses): each file's delivery is recorded in the ledger (pending before the request,
done after; one ledger read and two writes per call of :meth:`CodatUploader.upload`);
a file found pending - a previous attempt may or may not have arrived - is first
looked for in the company's file list (same name, uploaded after the pending mark minus
clock skew) *and* in that day's archive, where its bytes must have our size and sha256;
only then does it count as arrived, otherwise it is sent again. A name alone never
counts: another uploader's file often has the same name. The same check runs before a
request is retried within a run. Without a server-side ledger the uploader keeps one in
process memory (exactly-once within a run, not across runs). Each file goes with its
stored media type, or the type its extension has in Codat's table when the stored one
is generic (``application/octet-stream``).
"""

from __future__ import annotations

import tempfile
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from contextlib import ExitStack
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
from adapters.delivery import Delivery, DeliveryStatus, ExactlyOnce, Ledger, LedgerEntry, RunGuard, digest
from adapters.delivery.store import ProcessMemory
from adapters.failures import FailureClass
from adapters.retry import Retrier
from adapters.runtime import LoggerLike


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
        return digest(stream)


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


class CodatUploader:
    """Uploads files to one company connection; ``ledger`` makes it exactly-once across runs.

    ``batch_size`` files go in one request (Codat's limit is 20); ``concurrency`` requests
    are in flight at once; ``settle`` (seconds) is how old a pending mark must be before
    Codat is asked whether it arrived (the run's lease sets it from the upload deadline).
    """

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
        concurrency: int = 2,
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
        self.ledger = ledger or Ledger(
            None, namespace=f"codat-upload/{company_id}", store=ProcessMemory(), now=now
        )
        self.once = ExactlyOnce(self.ledger, settle=settle, skew=skew, sleep=sleep, answered=self._answered)
        self.batch_size = batch_size
        self.concurrency = concurrency
        self.max_bytes = max_bytes
        self.skew = skew
        self.now = now
        self._count = threading.Lock()

    def guard_with(self, guard: RunGuard, *, settle: float) -> None:
        """Bind the run's lease: owned, fenced marks and sends; pending marks settle ``settle`` s."""
        self.once.guard_with(guard, settle=settle)

    def _answered(self, exc: BaseException) -> bool:
        """Whether a failed request got Codat's own answer (so it is over there), not a gateway's."""
        failure = self.retrier.classifier(exc)
        status = failure.status if failure is not None else None
        return isinstance(status, int) and 100 <= status <= 599 and status not in (502, 504)

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
        if not accepted:
            return result
        checked = {c.file.key: c for c in accepted}
        outcomes = self.once.deliver_batch(
            [
                Delivery(
                    c.file.key, c.sha256, {"name": c.file.name, "size": c.size, "company_id": self.company_id}
                )
                for c in accepted
            ],
            send=lambda group: self._send_or_split([checked[d.key] for d in group], result),
            find=lambda entries: self._find(entries, checked),
            retrier=self.retrier,
            group_size=self.batch_size,
            concurrency=self.concurrency,
        )
        fatal: BaseException | None = None
        for item, outcome in zip(accepted, outcomes, strict=True):
            if outcome.status is DeliveryStatus.FAILED:
                fatal = fatal or outcome.error
                continue
            rejected = outcome.result.get("rejected")
            if outcome.status is DeliveryStatus.SKIPPED:
                result.skipped.append(item.file.name)
            elif isinstance(rejected, str):
                self._reject(result, item.file, f"refused by Codat: {rejected}")
                continue
            elif outcome.status is DeliveryStatus.RECONCILED:
                result.reconciled.append(item.file.name)
            else:
                result.uploaded.append(item.file.name)
            result.delivered_keys.append(item.file.key)
        if fatal is not None:
            raise fatal
        return result

    def _send_or_split(self, batch: list[_Checked], result: UploadResult) -> dict[str, Mapping[str, Any]]:
        """Send a batch; if Codat refuses it as invalid, find the culprit file by file.

        The pre-checks mirror Codat's documented rules, but Codat validates the whole
        request: one file it refuses for a reason we cannot see would otherwise block the
        other 19. A 400 on a single file rejects that file with Codat's own message (its
        ledger row is recorded done with that message, so reruns do not send it again).
        """
        try:
            self._send(batch, result)
        except Exception as exc:
            failure = self.retrier.classifier(exc)
            if failure is None or failure.kind is not FailureClass.INVALID or failure.status != 400:
                raise
            if len(batch) == 1:
                return {batch[0].file.key: {"rejected": failure.message[:500]}}
            if self.logger is not None:
                self.logger.warn(
                    f"codat upload: a batch of {len(batch)} was refused ({failure.message}); "
                    "sending its files one by one",
                    step="codat.upload_files",
                    detail={"files": [c.file.name for c in batch]},
                )
            results: dict[str, Mapping[str, Any]] = {}
            for checked in batch:
                results.update(self._send_or_split([checked], result))
            return results
        return {c.file.key: {"batch_size": len(batch)} for c in batch}

    def _send(self, batch: list[_Checked], result: UploadResult) -> None:
        """One upload request (the delivery core fenced the run's lease just before)."""
        with ExitStack() as streams:
            parts: list[UploadPart] = [
                (
                    c.file.name,
                    streams.enter_context(c.file.open()),
                    upload_media_type(c.file.name, c.file.media_type),
                )
                for c in batch
            ]
            with self._count:
                result.requests += 1
            self.client.upload(self.company_id, self.connection_id, parts)
        if self.logger is not None:
            self.logger.info(
                f"codat upload: {len(batch)} files to company {self.company_id} "
                f"connection {self.connection_id}",
                step="codat.upload_files",
                detail={"files": [c.file.name for c in batch][:20]},
            )

    def _reject(self, result: UploadResult, file: UploadFile, reason: str) -> None:
        result.rejected.append(Rejection(file.key, file.name, reason))
        result.delivered_keys.append(file.key)
        if self.logger is not None:
            self.logger.warn(
                f"codat upload: {file.name!r} rejected: {reason}",
                step="codat.upload_check",
                detail={"file": file.name, "key": file.key, "reason": reason},
            )

    # -- reconciliation -----------------------------------------------------------------

    def _find(
        self, entries: Sequence[LedgerEntry], checked: Mapping[str, _Checked]
    ) -> dict[str, Mapping[str, Any]]:
        """Which pending files provably arrived.

        Codat's listing times are Codat's clock, not Nuntiq's, so the search starts at the
        host's time of the first attempt minus ``skew``, as it always did.
        """
        candidates = [checked[e.key] for e in entries if e.key in checked]
        since = min(e.marked_at for e in entries)
        return {
            key: {"reconciled": True, "uploaded": when}
            for key, when in self._arrived(candidates, since).items()
        }

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
                    size, sha = digest(stream)
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

