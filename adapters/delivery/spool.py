"""Bytes read once, hashed on the way, kept for sending: the one spool-and-hash helper.

Why spool: a delivery's fingerprint must be the hash of the very bytes that are sent. A
source asked twice may serve different bytes (an archive rewritten, a file replaced), so
the content is read once into a ``SpooledTemporaryFile`` (in memory up to
``max_memory`` bytes, on disk beyond, so a big file is never held in memory) while it is
hashed, and that copy is what gets sent, as often as a retry needs.

Why check: when the source announced a size or sha256, a mismatch means a truncated or
damaged download; it is refused (:class:`ContentMismatch`, naming the item) before
anything is sent.
"""

from __future__ import annotations

import hashlib
import io
import tempfile
from collections.abc import Callable
from typing import IO

__all__ = ["CHUNK", "ContentMismatch", "Spooled", "digest", "spool"]

CHUNK = 256 * 1024


class ContentMismatch(ValueError):
    """The bytes read do not match the size or sha256 the source announced."""


def digest(stream: IO[bytes]) -> tuple[int, str]:
    """Size and sha256 of what ``stream`` still holds, read in chunks."""
    hashed = hashlib.sha256()
    size = 0
    while chunk := stream.read(CHUNK):
        size += len(chunk)
        hashed.update(chunk)
    return size, hashed.hexdigest()


class Spooled:
    """One item's bytes, spooled: ``sha256`` and ``size`` of exactly what :meth:`reader` serves."""

    def __init__(self, file: IO[bytes], sha256: str, size: int) -> None:
        self._file = file
        self.sha256 = sha256
        self.size = size

    def reader(self) -> IO[bytes]:
        """The content from its start; closing the reader leaves the spool open (it may be sent again)."""
        self._file.seek(0)
        return io.BufferedReader(_Unclosing(self._file), CHUNK)

    def close(self) -> None:
        self._file.close()

    def __enter__(self) -> Spooled:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def spool(
    open_content: Callable[[], IO[bytes]],
    *,
    describe: str,
    max_memory: int = 1024 * 1024,
    sha256: str | None = None,
    size: int | None = None,
    directory: str | None = None,
) -> Spooled:
    """Read ``open_content()`` once into a spool, hashing it; check it against what was announced.

    ``directory`` is where the spool goes once it outgrows ``max_memory`` (the system's
    temporary directory by default).
    """
    file: IO[bytes] = tempfile.SpooledTemporaryFile(max_size=max_memory, dir=directory)  # noqa: SIM115
    try:
        hashed = hashlib.sha256()
        read = 0
        with open_content() as source:
            while chunk := source.read(CHUNK):
                hashed.update(chunk)
                read += len(chunk)
                file.write(chunk)
        actual = hashed.hexdigest()
        if sha256 is not None and sha256.lower() != actual:
            raise ContentMismatch(
                f"{describe}: content sha256 {actual} does not match the announced {sha256}"
            )
        if size is not None and size != read:
            raise ContentMismatch(f"{describe}: read {read} bytes, the source announced {size}")
    except BaseException:
        file.close()
        raise
    return Spooled(file, actual, read)


class _Unclosing(io.RawIOBase):
    """A read view of a spool whose ``close()`` does not close the spool."""

    def __init__(self, file: IO[bytes]) -> None:
        super().__init__()
        self._file = file

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        data = self._file.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def read(self, size: int = -1) -> bytes:
        return self._file.read(size)

    def seek(self, offset: int, whence: int = 0) -> int:
        return self._file.seek(offset, whence)

    def tell(self) -> int:
        return self._file.tell()

    def seekable(self) -> bool:
        return True
