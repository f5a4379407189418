"""File-bearing Connect resources as documents, streamed rather than loaded.

``ConnectClient.get`` returns ``response.content``, i.e. the whole file in memory, so
downloads go through the client's ``requests`` session with ``stream=True``. The API
key is only ever sent to the Connect endpoint's own origin: pre-signed URLs on other
hosts get no Authorization header.

A document's ``open()`` uses :func:`download`: the body is streamed into a spooled
temporary file (memory up to a threshold, disk beyond) under the retry policy, so a
connection dropped half-way through a file starts that file again from its first
byte instead of failing the run. Resuming where the drop happened is deliberately not
attempted: a broken response's partial body is not guaranteed to be a prefix of the
file, and a resumed copy could be silently corrupt.
"""

from __future__ import annotations

import io
import mimetypes
import shutil
import tempfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import datetime
from typing import IO, Any, cast
from urllib.parse import quote, urljoin, urlsplit

import requests
from connect.client import ConnectClient
from connect.client.utils import get_headers

from adapters.connect.paging import fetch_page
from adapters.connect.sources import ConnectStreamSource
from adapters.paging import Page, PagingError, iter_offset
from adapters.records import DocumentItem, Refetch
from adapters.retry import Retrier

__all__ = [
    "BillingBatchFilesSource",
    "MediaFolderFilesSource",
    "download",
    "download_target",
    "open_download",
]

_CHUNK = 64 * 1024
#: bytes of a download kept in memory before the spool moves to disk
SPOOL_MAX_BYTES = 8 * 1024 * 1024


def _origin(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    return parts.scheme, parts.netloc


def open_download(client: ConnectClient, retrier: Retrier, url_or_path: str, *, step: str) -> IO[bytes]:
    """Open a streamed download; retried (through ``retrier``) until the body starts.

    ``url_or_path`` is absolute, server-absolute (``/public/v1/media/...``) or relative
    to the endpoint. Errors raise ``requests.HTTPError`` (classified by the Connect
    classifier); the returned stream decodes any transfer compression.
    """
    return retrier.call(lambda: _open_stream(client, url_or_path), step=step)


def _open_stream(client: ConnectClient, url_or_path: str) -> IO[bytes]:
    base = client.endpoint.rstrip("/") + "/"
    url = urljoin(base, url_or_path)
    headers: dict[str, str] = {}
    if _origin(url) == _origin(base):
        headers.update(get_headers(client.api_key))
    response = client.session.get(url, headers=headers, timeout=client.timeout, stream=True)
    if response.status_code >= 400:
        try:
            _ = response.content  # small error body, read for the classifier's message
        finally:
            response.close()
        response.raise_for_status()
    return cast(IO[bytes], io.BufferedReader(_ResponseStream(response), buffer_size=_CHUNK))


def download(
    client: ConnectClient,
    retrier: Retrier,
    url_or_path: str,
    *,
    step: str,
    spool_max_bytes: int = SPOOL_MAX_BYTES,
) -> IO[bytes]:
    """The whole file as a rewound spooled temporary file, every attempt from the first byte.

    Any failure the retrier retries (a 5xx, a 429, a connection dropped before or in the
    middle of the body) discards what was read and downloads the file again.
    """

    def attempt() -> IO[bytes]:
        spool = tempfile.SpooledTemporaryFile(max_size=spool_max_bytes)  # noqa: SIM115 - returned open
        try:
            with _open_stream(client, url_or_path) as stream:
                shutil.copyfileobj(stream, spool, _CHUNK)
        except BaseException:
            spool.close()
            raise
        spool.seek(0)
        return cast(IO[bytes], spool)

    return retrier.call(attempt, step=step)


class _ResponseStream(io.RawIOBase):
    """A streamed ``requests`` response as a readable binary file.

    Reads go through ``iter_content`` so transfer decoding applies and a connection
    dropped mid-body surfaces as ``requests`` ``ChunkedEncodingError``/``ConnectionError``
    (classified transient) rather than a bare urllib3 error.
    """

    def __init__(self, response: requests.Response) -> None:
        super().__init__()
        self._response = response
        self._chunks = response.iter_content(chunk_size=_CHUNK)
        self._pending = b""

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        if not self._pending:
            self._pending = next(self._chunks, b"")
            if not self._pending:
                return 0
        n = min(len(buffer), len(self._pending))
        buffer[:n] = self._pending[:n]
        self._pending = self._pending[n:]
        return n

    def close(self) -> None:
        if not self.closed:
            self._response.close()
        super().close()


def _media_type(name: str, declared: str | None) -> str:
    if declared:
        return declared
    guessed, _ = mimetypes.guess_type(name)
    return guessed or "application/octet-stream"


#: fields a file entry may carry its download location in, most specific first; the
#: spec's batch-file schema names none (id, name, type, position), media files use ``file``
DOWNLOAD_FIELDS = ("file", "url", "download_url", "link", "href")


def download_target(entry: Mapping[str, Any]) -> str | None:
    """The download URL or server path a file entry names, if it names one.

    A location the server gives is preferred to one built by hand: the built path
    (``/media/folders/streams_batches/{batch}/files/{file}/{name}``) is an assumption
    no reference confirms.
    """
    for name in DOWNLOAD_FIELDS:
        value = entry.get(name)
        if isinstance(value, str) and value.strip():
            return value.strip()
        if isinstance(value, Mapping):  # {"url": ...} or {"href": ...} objects
            nested = download_target(value)
            if nested:
                return nested
    return None


class BillingBatchFilesSource(ConnectStreamSource):
    """Files attached to billing batches created since the cursor.

    Batches are keyset-paged by ``events.created.at``; each batch's file list
    (``/billing/batches/{id}/files``) is offset-paged by what arrived; each file is
    downloaded when a sink opens it, from the location its entry names or, when it
    names none, from the batch's media folder (``streams_batches/{batch id}``).
    Key: ``{batch id}/{file id}``; cursor: the batch's creation time.
    """

    def __init__(self, client: ConnectClient, **kwargs: Any) -> None:
        super().__init__(client, "billing_batch_files", **kwargs)

    def _files(self, batch_id: str) -> Iterator[dict[str, Any]]:
        path = f"billing/batches/{quote(batch_id, safe='')}/files"

        step = "connect.billing_batch_files.list"

        def fetch(limit: int, offset: int) -> Page[dict[str, Any]]:
            return self.retrier.call(
                lambda: self.page_size.call(
                    lambda size: fetch_page(self.client, path, "", limit=size, offset=offset), step=step
                ),
                step=step,
            )

        try:
            yield from iter_offset(fetch, limit=self.page_size.value, describe=f"GET {path}")
        except PagingError as exc:
            raise self.invalid(str(exc)) from exc

    def _opener(self, path: str) -> Callable[[], IO[bytes]]:
        def open_() -> IO[bytes]:
            return download(self.client, self.retrier, path, step="connect.billing_batch_files.download")

        return open_

    def fetch_since(self, cursor: datetime | None) -> Iterator[DocumentItem]:  # type: ignore[override]
        for batch in self.iter_raw(cursor):
            yield from self._documents(batch)

    def refetch(self, wanted: Sequence[Refetch]) -> Iterator[DocumentItem]:  # type: ignore[override]
        """Quarantined files again: their batches by id, then only the wanted files of each."""
        files: dict[str, set[str]] = {}
        for request in wanted:
            batch_id, _, file_id = request.key.partition("/")
            files.setdefault(batch_id, set()).add(file_id)
        for batch in self.iter_by_keys(list(files)):
            yield from self._documents(batch, only=files.get(str(batch.get(self.spec.key_field))))

    def _documents(self, batch: dict[str, Any], only: set[str] | None = None) -> Iterator[DocumentItem]:
        batch_item = self.to_item(batch)
        for entry in self._files(batch_item.key):
            file_id = entry.get("id")
            if only is not None and str(file_id) not in only:
                continue
            name = entry.get("name")
            if not file_id or not name:
                raise self.invalid(f"billing batch {batch_item.key!r}: file entry without id or name")
            path = download_target(entry) or (
                f"media/folders/streams_batches/{quote(batch_item.key, safe='')}"
                f"/files/{quote(str(file_id), safe='')}/{quote(str(name), safe='')}"
            )
            yield DocumentItem(
                key=f"{batch_item.key}/{file_id}",
                cursor=batch_item.cursor,
                name=str(name),
                media_type=_media_type(str(name), None),
                open=self._opener(path),
                metadata={
                    "batch_id": batch_item.key,
                    "batch_name": batch.get("name"),
                    "file_id": file_id,
                    "file_type": entry.get("type"),
                    "position": entry.get("position"),
                    "stream_id": (batch.get("stream") or {}).get("id"),
                },
                stream=self.name,
            )


class MediaFolderFilesSource(ConnectStreamSource):
    """Files in one media folder (``/media/folders/{type}/{name}/files``) by creation time."""

    def __init__(self, client: ConnectClient, *, folder_type: str, folder_name: str, **kwargs: Any) -> None:
        super().__init__(
            client,
            "media_folder_files",
            path_params={
                "folder_type": quote(folder_type, safe=""),
                "folder_name": quote(folder_name, safe="/"),
            },
            **kwargs,
        )
        self.folder_type = folder_type
        self.folder_name = folder_name

    def _opener(self, target: str) -> Callable[[], IO[bytes]]:
        def open_() -> IO[bytes]:
            return download(self.client, self.retrier, target, step="connect.media_folder_files.download")

        return open_

    def to_document(self, record: Mapping[str, Any]) -> DocumentItem:
        item = self.to_item(dict(record))
        name = record.get("name")
        if not name:
            raise self.invalid(f"media file {item.key!r} has no name")
        target = record.get("file") or f"{self.path}/{quote(item.key, safe='')}/{quote(str(name), safe='')}"
        size = record.get("size")
        return DocumentItem(
            key=item.key,
            cursor=item.cursor,
            name=str(name),
            media_type=_media_type(str(name), record.get("mime_type")),
            open=self._opener(str(target)),
            size=int(size) if isinstance(size, int) else None,
            metadata={
                "folder_type": self.folder_type,
                "folder_name": self.folder_name,
                "owner_id": (record.get("owner") or {}).get("id"),
            },
            stream=self.name,
        )

    def fetch_since(self, cursor: datetime | None) -> Iterator[DocumentItem]:  # type: ignore[override]
        for record in self.iter_raw(cursor):
            yield self.to_document(record)

    def refetch(self, wanted: Sequence[Refetch]) -> Iterator[DocumentItem]:  # type: ignore[override]
        """Quarantined files again by id, as documents."""
        for record in self.iter_by_keys([w.key for w in wanted]):
            yield self.to_document(record)
