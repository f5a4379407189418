"""A :class:`~adapters.sinks.base.Sink` that uploads documents to a Codat connection.

Items are spooled as they arrive (:func:`adapters.delivery.spool.spool`: hashed on the
way, in memory up to a small limit and on disk beyond, so the source is read once and
nothing big is held in memory), uploaded through
:class:`~adapters.codat.upload.CodatUploader` once ``batch_size`` are queued (one ledger
read and two ledger writes per batch, requests of up to 20 files, some in flight at
once) and at every flush, and dropped once sent. With a ledger the uploader is
exactly-once across reruns; rejected files (type, size) are reported, counted as
skipped, and never block the rest.

Bound to the run's lease (:meth:`CodatUploadSink.guard_with`, which the sync driver
calls), every ledger mark and every request is fenced: a run that was paused, lost its
lease and resumed uploads nothing more (:class:`~adapters.lease.LeaseLost`), and its
pending marks are reconciled by the new holder only after the upload deadline.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from adapters.codat.upload import CodatUploader, UploadFile, UploadResult
from adapters.delivery import RunGuard, Spooled, spool
from adapters.records import DocumentItem
from adapters.sinks.base import SinkCounts

#: how much of one file is spooled in memory before the spool moves to disk
SPOOL_MEMORY = 256 * 1024


class CodatUploadSink:
    """Upload sink for :class:`DocumentItem`; ``result`` accumulates what happened.

    ``batch_size``: items queued before an upload round (default: two full requests).
    """

    def __init__(
        self,
        uploader: CodatUploader,
        *,
        name: str = "codat_upload",
        workdir: Path | None = None,
        batch_size: int | None = None,
    ) -> None:
        self.uploader = uploader
        self._name = name
        self._dir = tempfile.mkdtemp(prefix="codat-upload-", dir=workdir)
        self.batch_size = batch_size or uploader.batch_size * 2
        self._buffer: list[tuple[UploadFile, Spooled]] = []
        self._durable_since_flush = 0
        self.result = UploadResult()

    def guard_with(self, guard: RunGuard, *, settle: float) -> None:
        """Bind the run's lease: owned, fenced marks and requests; pending marks settle ``settle`` s."""
        self.uploader.guard_with(guard, settle=settle)

    @property
    def name(self) -> str:
        return self._name

    @property
    def pending(self) -> int:
        return len(self._buffer)

    @property
    def skipped(self) -> int:
        return len(self.result.skipped) + len(self.result.rejected)

    @property
    def counts(self) -> SinkCounts:
        """Sent now is written; delivered before or reconciled is already present; refused is rejected."""
        result = self.result
        return SinkCounts(
            written=len(result.uploaded),
            already_present=len(result.skipped) + len(result.reconciled),
            rejected=len(result.rejected),
        )

    def add(self, item: DocumentItem) -> None:
        if any(queued.key == item.key for queued, _ in self._buffer):
            self._send()  # the same key twice: the first copy's delivery decides the second's
        spooled = spool(
            item.open,
            describe=f"document {item.key!r} ({item.name})",
            max_memory=SPOOL_MEMORY,
            directory=self._dir,
        )
        upload = UploadFile(
            key=item.key,
            name=item.name,
            open=spooled.reader,
            media_type=item.media_type,
            size=spooled.size,
            sha256=spooled.sha256,
        )
        self._buffer.append((upload, spooled))
        if len(self._buffer) >= self.batch_size:
            self._send()

    def flush(self) -> int:
        self._send()
        count, self._durable_since_flush = self._durable_since_flush, 0
        return count

    def close(self) -> None:
        """Drop anything unsent (a failed run must not write its tail) and the spools."""
        for _, spooled in self._buffer:
            spooled.close()
        self._buffer.clear()

    def _send(self) -> None:
        if not self._buffer:
            return
        batch, self._buffer = self._buffer, []
        try:
            outcome = self.uploader.upload([upload for upload, _ in batch])
        finally:
            for _, spooled in batch:
                spooled.close()
        self._durable_since_flush += len(outcome.uploaded) + len(outcome.reconciled)
        self.result.merge(outcome)
