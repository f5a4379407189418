"""The httpx client handed to the Codat SDK (its ``client=`` hook), with the SDK's defects fixed.

codat-files 0.3.0 has three transport-level problems this wrapper hides:

* ``download_files`` sends with ``stream=True`` and, on an error status, reads
  ``response.text`` without reading the body first, so every 4xx/5xx (and any 2xx that
  is not ``application/octet-stream``) surfaces as ``httpx.ResponseNotRead`` instead of a
  typed error. :meth:`CodatHttpClient.send` reads such bodies before the SDK sees them.
* ``upload_files`` names the multipart part ``fileName`` (Codat expects ``file``) and can
  carry only one file. :meth:`CodatHttpClient.build_request` renames the part and, inside
  :func:`upload_parts`, replaces it with the whole batch so one request carries up to 20 files.
* The SDK's typed errors (``errors.Schema`` and the per-operation 403 classes) keep no
  response, so ``Retry-After`` and the real HTTP status are lost. The last response of the
  current call is recorded in a context variable; :mod:`adapters.codat.client` attaches it to
  the raised error as ``raw_response``.

Each workaround has a test that fails once the SDK no longer needs it (tests/codat).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping, Sequence
from contextvars import ContextVar
from typing import IO, Any

import httpx

#: name of the multipart part Codat's upload endpoint reads
UPLOAD_PART = "file"
#: name the SDK 0.3.0 gives the part instead
SDK_UPLOAD_PART = "fileName"

OCTET_STREAM = "application/octet-stream"
ZIP_TYPES = frozenset({"application/zip", "application/x-zip-compressed", "application/x-zip"})

UploadPart = tuple[str, IO[bytes] | bytes, str]  # (file name, content, media type)

_last_response: ContextVar[httpx.Response | None] = ContextVar("codat_last_response", default=None)
_batch: ContextVar[Sequence[UploadPart] | None] = ContextVar("codat_upload_batch", default=None)


def last_response() -> httpx.Response | None:
    """The response most recently returned to the SDK in this context (thread / task)."""
    return _last_response.get()


@contextlib.contextmanager
def capture_responses() -> Iterator[None]:
    """Scope in which :func:`last_response` refers to this call only."""
    token = _last_response.set(None)
    try:
        yield
    finally:
        _last_response.reset(token)


@contextlib.contextmanager
def upload_parts(parts: Sequence[UploadPart]) -> Iterator[None]:
    """While active, an SDK upload request carries ``parts`` (all named ``file``)."""
    token = _batch.set(list(parts))
    try:
        yield
    finally:
        _batch.reset(token)


def fix_multipart(files: Any) -> Any:
    """Rewrite the SDK's upload parts: ``fileName`` -> ``file``, and the batch if one is active.

    Anything that is not the SDK's one-file upload shape is passed through untouched, so
    a fixed SDK (part already named ``file``) keeps working.
    """
    if not isinstance(files, Mapping) or SDK_UPLOAD_PART not in files:
        return files
    batch = _batch.get()
    if batch is not None:
        return [(UPLOAD_PART, part) for part in batch]
    rewritten: list[tuple[str, Any]] = []
    for name, value in files.items():
        rewritten.append((UPLOAD_PART if name == SDK_UPLOAD_PART else name, value))
    return rewritten


class CodatHttpClient:
    """Implements the SDK's ``HttpClient`` protocol over one ``httpx.Client``, with every fix on.

    There is no switch to turn a fix off: the tests that show the SDK's raw behaviour hand
    the SDK a plain ``httpx.Client`` instead (any ``httpx.Client`` is an ``HttpClient``).
    """

    def __init__(self, inner: httpx.Client) -> None:
        self.inner = inner

    def send(
        self,
        request: httpx.Request,
        *,
        stream: bool = False,
        auth: Any = httpx.USE_CLIENT_DEFAULT,
        follow_redirects: Any = httpx.USE_CLIENT_DEFAULT,
    ) -> httpx.Response:
        response = self.inner.send(request, stream=stream, auth=auth, follow_redirects=follow_redirects)
        if stream:
            media = response.headers.get("content-type", "").split(";")[0].strip().lower()
            if response.is_success and media in ZIP_TYPES:
                # A zip labelled as such is still the archive; the SDK only accepts octet-stream.
                response.headers["content-type"] = OCTET_STREAM
            elif not response.is_success or media != OCTET_STREAM:
                # Error bodies (and unexpected 2xx bodies: HTML pages, JSON) are small;
                # reading them lets the SDK build its typed error instead of failing with
                # ResponseNotRead. A body cut short raises a transport error here, which
                # is retryable. read() also closes the stream.
                try:
                    response.read()
                finally:
                    response.close()
        _last_response.set(response)
        return response

    def build_request(
        self,
        method: str,
        url: Any,
        *,
        content: Any = None,
        data: Any = None,
        files: Any = None,
        json: Any = None,
        params: Any = None,
        headers: Any = None,
        cookies: Any = None,
        timeout: Any = httpx.USE_CLIENT_DEFAULT,
        extensions: Any = None,
    ) -> httpx.Request:
        return self.inner.build_request(
            method,
            url,
            content=content,
            data=data,
            files=fix_multipart(files),
            json=json,
            params=params,
            headers=headers,
            cookies=cookies,
            timeout=timeout,
            extensions=extensions,
        )

    def close(self) -> None:
        self.inner.close()
