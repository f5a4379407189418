"""Construction of the Codat Files SDK and the three calls the adapter makes through it.

The SDK's own retry loop (up to an hour of backoff that ignores ``Retry-After``) is
switched off here; retries belong to :class:`adapters.retry.Retrier`, which every
caller wraps these methods in. Each method is one HTTP request, so one ``Retrier.call``
retries exactly one request.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

import httpx
from codat_files import CodatFiles
from codat_files.models import errors as sdk_errors
from codat_files.models import operations, shared
from codat_files.utils import BackoffStrategy, RetryConfig

from adapters import progress
from adapters.codat.http import CodatHttpClient, UploadPart, capture_responses, last_response, upload_parts
from adapters.codat.settings import CodatSettings, auth_header

T = TypeVar("T")

#: "none" is not "backoff", so the SDK's retry() calls the request exactly once
NO_SDK_RETRIES = RetryConfig("none", BackoffStrategy(0, 0, 1.0, 0), False)

CHUNK = 256 * 1024


class ArchiveTooLarge(Exception):
    """The download grew past ``ArchiveLimits.max_archive_bytes``; it is not retried."""


def _report_response(response: httpx.Response) -> None:
    """Every Codat response, for progress displays (:mod:`adapters.progress`)."""
    size = response.headers.get("Content-Length", "")
    progress.report_response(f"codat {response.url.host}", size=int(size) if size.isdigit() else 0)


def build_sdk(
    settings: CodatSettings,
    api_key: str,
    *,
    http: httpx.Client | None = None,
) -> CodatFiles:
    """A ``CodatFiles`` instance with retries off, a timeout, and the defect workarounds.

    ``http`` lets callers (tests, benchmarks) share or instrument the transport.
    """
    inner = http or httpx.Client(timeout=settings.timeout_s, event_hooks={"response": [_report_response]})
    client = CodatHttpClient(inner)
    return CodatFiles(
        auth_header=auth_header(api_key),
        server_url=settings.server_url,
        client=client,
        retry_config=NO_SDK_RETRIES,
        timeout_ms=int(settings.timeout_s * 1000),
    )


class CodatFilesClient:
    """The list / download / upload calls, one request each, with errors made classifiable.

    Errors raised are the SDK's own (``errors.Schema``, ``errors.*ErrorMessage``,
    ``errors.SDKError``) or httpx transport errors; SDK errors carry ``raw_response``
    (status, headers such as ``Retry-After``) for :func:`adapters.codat.errors.classify`.
    """

    def __init__(self, sdk: CodatFiles, settings: CodatSettings) -> None:
        self.sdk = sdk
        self.settings = settings

    @classmethod
    def create(cls, settings: CodatSettings, api_key: str, **kwargs: Any) -> CodatFilesClient:
        return cls(build_sdk(settings, api_key, **kwargs), settings)

    def close(self) -> None:
        client = self.sdk.sdk_configuration.client
        if isinstance(client, CodatHttpClient):
            client.close()

    def _call(self, fn: Callable[[], T]) -> T:
        with capture_responses():
            try:
                return fn()
            except Exception as exc:
                response = last_response()
                if response is not None and getattr(exc, "raw_response", None) is None:
                    # The SDK's typed errors drop the response; keep it for the classifier.
                    exc.raw_response = response  # type: ignore[attr-defined]
                raise

    def list_files(self, company_id: str) -> list[shared.File]:
        """All files of a company: the endpoint is unpaginated and unfiltered."""

        def call() -> list[shared.File]:
            result = self.sdk.files.list_files(request=operations.ListFilesRequest(company_id=company_id))
            return list(result or [])

        return self._call(call)

    def download_archive(self, company_id: str, day: str | None, dest: Path) -> int:
        """Stream the archive for ``day`` (YYYY-MM-DD, or everything) into ``dest``; returns bytes.

        A 204 answer (no archive at all) writes an empty file and returns 0, as does an
        empty body: both mean the day has no files.

        The response is written chunk by chunk so no archive is ever held in memory; a
        retry rewrites ``dest`` from the start.
        """
        limit = self.settings.archive_limits.max_archive_bytes

        def call() -> int:
            request = operations.DownloadFilesRequest(company_id=company_id, date_=day)
            try:
                response = self.sdk.files.download_files(request=request)
            except sdk_errors.SDKError as exc:
                if exc.status_code != 204:
                    raise
                # "No Content": a day without files, answered without an archive
                dest.write_bytes(b"")
                return 0
            if response is None:  # pragma: no cover - the SDK returns or raises
                raise RuntimeError(f"codat: no response downloading files of {company_id} for {day}")
            written = 0
            try:
                with open(dest, "wb") as out:
                    for chunk in response.iter_bytes(CHUNK):
                        written += len(chunk)
                        if written > limit:
                            raise ArchiveTooLarge(
                                f"codat archive of company {company_id} for {day or 'all dates'} is larger "
                                f"than {limit} bytes; refused"
                            )
                        out.write(chunk)
            finally:
                response.close()
            return written

        try:
            return self._call(call)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(dest)
            raise

    def upload(self, company_id: str, connection_id: str, parts: Sequence[UploadPart]) -> None:
        """One multipart request carrying ``parts`` (the caller enforces Codat's limits)."""
        if not parts:
            return
        first_name, _, first_type = parts[0]
        # The SDK models one file per call (and rejects BytesIO content); CodatHttpClient
        # replaces this placeholder part with the whole batch while upload_parts() is active.
        request = operations.UploadFilesRequest(
            company_id=company_id,
            connection_id=connection_id,
            file_upload=shared.FileUpload(
                file=shared.CodatFile(content=b"", file_name=first_name, content_type=first_type)
            ),
        )

        def call() -> None:
            with upload_parts(parts):
                self.sdk.files.upload_files(request=request)

        self._call(call)
