"""A :class:`~adapters.sinks.base.Sink` that uploads documents to a Codat connection.

Items are spooled to a private temporary directory as they arrive (hashed on the way,
so nothing is held in memory and the source is read once), uploaded in batches of up to
20 through :class:`~adapters.codat.upload.CodatUploader`, and deleted once sent. With a
ledger the uploader is exactly-once across reruns; rejected files (type, size) are
reported, counted as skipped, and never block the rest.
"""

from __future__ import annotations

import hashlib
import shutil
import tempfile
from functools import partial
from pathlib import Path
from typing import IO

from adapters.codat.upload import CodatUploader, UploadFile, UploadResult
from adapters.records import DocumentItem
from adapters.sinks.base import SinkCounts

_CHUNK = 256 * 1024


def _open_read(path: Path) -> IO[bytes]:
    return open(path, "rb")


class CodatUploadSink:
    """Upload sink for :class:`DocumentItem`; ``result`` accumulates what happened."""

    def __init__(
        self, uploader: CodatUploader, *, name: str = "codat_upload", workdir: Path | None = None
    ) -> None:
        self.uploader = uploader
        self._name = name
        self._dir = Path(tempfile.mkdtemp(prefix="codat-upload-", dir=workdir))
        self._buffer: list[UploadFile] = []
        self._paths: list[Path] = []
        self._durable_since_flush = 0
        self._counter = 0
        self.result = UploadResult()

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
        self._counter += 1
        path = self._dir / f"{self._counter:06d}-{hashlib.sha256(item.key.encode()).hexdigest()[:16]}"
        digest = hashlib.sha256()
        size = 0
        with item.open() as source, open(path, "wb") as out:
            while chunk := source.read(_CHUNK):
                digest.update(chunk)
                size += len(chunk)
                out.write(chunk)
        self._paths.append(path)
        self._buffer.append(
            UploadFile(
                key=item.key,
                name=item.name,
                open=partial(_open_read, path),
                media_type=item.media_type,
                size=size,
                sha256=digest.hexdigest(),
            )
        )
        if len(self._buffer) >= self.uploader.batch_size:
            self._send()

    def flush(self) -> int:
        self._send()
        count, self._durable_since_flush = self._durable_since_flush, 0
        return count

    def close(self) -> None:
        """Drop anything unsent (a failed run must not write its tail) and the spool files."""
        self._buffer.clear()
        shutil.rmtree(self._dir, ignore_errors=True)

    def _send(self) -> None:
        if not self._buffer:
            return
        batch, self._buffer = self._buffer, []
        paths, self._paths = self._paths, []
        try:
            outcome = self.uploader.upload(batch)
        finally:
            for path in paths:
                path.unlink(missing_ok=True)
        self._durable_since_flush += len(outcome.uploaded) + len(outcome.reconciled)
        self.result.merge(outcome)
