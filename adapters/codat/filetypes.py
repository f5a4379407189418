"""The file types Codat accepts for upload, and media types for the files we pull.

One table serves both directions so the pre-upload check and the documents we hand
to Nuntiq agree on what, say, ``.xlsb`` is.
"""

from __future__ import annotations

import mimetypes
from pathlib import PurePosixPath

#: extension (lower case, no dot) -> media type; exactly Codat's upload allow-list
ALLOWED_TYPES: dict[str, str] = {
    "pdf": "application/pdf",
    "xls": "application/vnd.ms-excel",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "xlsb": "application/vnd.ms-excel.sheet.binary.macroenabled.12",
    "csv": "text/csv",
    "doc": "application/msword",
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "ppt": "application/vnd.ms-powerpoint",
    "pptx": "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    "jpeg": "image/jpeg",
    "jpg": "image/jpeg",
    "png": "image/png",
}

#: Codat's per-file upload limit
MAX_UPLOAD_BYTES = 10 * 1024 * 1024
#: Codat's per-request file count limit
MAX_FILES_PER_REQUEST = 20

OCTET_STREAM = "application/octet-stream"


def extension(name: str) -> str:
    return PurePosixPath(name.replace("\\", "/")).suffix.lower().lstrip(".")


def media_type_for(name: str) -> str:
    """Media type from the file name: Codat's table first, then the platform's, else octet-stream."""
    known = ALLOWED_TYPES.get(extension(name))
    if known:
        return known
    guessed, _ = mimetypes.guess_type(name, strict=False)
    return guessed or OCTET_STREAM


#: media types that say nothing about the content: a document stored with one of these is
#: sent with the type its name has in :data:`ALLOWED_TYPES` instead
GENERIC_TYPES = frozenset(
    {
        OCTET_STREAM,
        "binary/octet-stream",
        "application/x-download",
        "application/download",
        "application/unknown",
    }
)


def upload_media_type(name: str, stored: str | None) -> str:
    """The media type to send for ``name``: the stored one unless it is missing or generic."""
    declared = (stored or "").split(";")[0].strip().lower()
    if declared and declared not in GENERIC_TYPES:
        return stored or declared
    return media_type_for(name)
