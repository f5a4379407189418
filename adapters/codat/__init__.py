"""Codat Files adapter: list / download / upload through the ``codat-files`` SDK (0.3.x).

Public surface:

* :class:`CodatSettings` (+ :class:`ArchiveLimits`): the ``config.codat`` block;
* :func:`client_from_context` / :func:`build_sdk` / :class:`CodatFilesClient`: the SDK with
  its retries off and its defects worked round (:mod:`adapters.codat.http`);
* :func:`classify` / :func:`make_classifier`: Codat failures -> failure classes;
* :class:`CodatFilesSource` (:func:`files_source`): one company's files as documents;
* :class:`CodatUploader`, :class:`CodatUploadSink` (:func:`upload_sink`): checked,
  batched, exactly-once uploads to a connection;
* :mod:`adapters.codat.archive`: safe zip reading, member by member;
  :mod:`adapters.codat.layout`: listed files and the readings of ``date``;
  :mod:`adapters.codat.matching`: archive members -> listed files, any layout;
  :mod:`adapters.codat.days`: :class:`DayReader` and per-item :class:`Refusal`;
  :mod:`adapters.codat.delivered`: :class:`DeliveryRecord`, per-day delivery summaries.
"""

from adapters.codat.archive import ArchiveError, ArchiveLayoutError, SafeArchive, UnsafeArchiveError
from adapters.codat.client import NO_SDK_RETRIES, ArchiveTooLarge, CodatFilesClient, build_sdk
from adapters.codat.days import DayReader, Refusal
from adapters.codat.delivered import DeliveryRecord
from adapters.codat.errors import classify, make_classifier
from adapters.codat.factory import (
    CodatConfigError,
    client_from_context,
    codat_retrier,
    files_source,
    settings_from_context,
    upload_sink,
)
from adapters.codat.layout import DateRule, ListedFile
from adapters.codat.matching import match_day
from adapters.codat.settings import ArchiveLimits, CodatSettings, auth_header
from adapters.codat.sink import CodatUploadSink
from adapters.codat.source import CodatFilesSource, CodatListError, document_key
from adapters.codat.upload import CodatUploader, Rejection, UploadFile, UploadResult, check_upload

__all__ = [
    "NO_SDK_RETRIES",
    "ArchiveError",
    "ArchiveLayoutError",
    "ArchiveLimits",
    "ArchiveTooLarge",
    "CodatConfigError",
    "CodatFilesClient",
    "CodatFilesSource",
    "CodatListError",
    "CodatSettings",
    "CodatUploadSink",
    "CodatUploader",
    "DateRule",
    "DayReader",
    "DeliveryRecord",
    "ListedFile",
    "Refusal",
    "Rejection",
    "SafeArchive",
    "UnsafeArchiveError",
    "UploadFile",
    "UploadResult",
    "auth_header",
    "build_sdk",
    "check_upload",
    "classify",
    "client_from_context",
    "codat_retrier",
    "document_key",
    "files_source",
    "make_classifier",
    "match_day",
    "settings_from_context",
    "upload_sink",
]
