"""Building the zip archives the sandbox's download endpoint returns, good and bad.

The layout (the one :mod:`adapters.codat.layout` expects): members at the root named
by ``fileName``; a name repeated on the same date gets `` (2)``, `` (3)``... before the
extension, in upload order. The "bad" archives exist so tests can check the
adapter refuses them.
"""

from __future__ import annotations

import io
import stat
import zipfile
from collections.abc import Iterable

from sandbox.codat.seed import StoredFile


def _numbered(name: str, n: int) -> str:
    if n <= 1:
        return name
    stem, dot, ext = name.rpartition(".")
    return f"{stem} ({n}).{ext}" if dot and stem else f"{name} ({n})"


def build_archive(files: Iterable[tuple[int, StoredFile, float]]) -> bytes:
    """Zip of ``(list position, file, uploaded epoch)``; duplicates numbered in upload order."""
    buffer = io.BytesIO()
    seen: dict[str, int] = {}
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for _, stored, _ in sorted(files, key=lambda f: (f[2], f[0])):
            count = seen.get(stored.file_name, 0) + 1
            seen[stored.file_name] = count
            archive.writestr(_numbered(stored.file_name, count), stored.content)
    return buffer.getvalue()


MALICIOUS_KINDS = ("traversal", "absolute", "symlink", "bomb", "not_zip", "missing", "too_many")


def build_malicious(kind: str, files: list[StoredFile]) -> bytes:
    """An archive for one date that breaks the rules in the way ``kind`` names.

    The genuine files are included too, so only the bad entry makes it unsafe.
    """
    if kind == "not_zip":
        return b"<html><body>Service temporarily unavailable</body></html>"
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        if kind != "missing":
            for stored in files:
                if not archive.NameToInfo.get(stored.file_name):
                    archive.writestr(stored.file_name, stored.content)
        else:
            for stored in files[1:]:
                if not archive.NameToInfo.get(stored.file_name):
                    archive.writestr(stored.file_name, stored.content)
        if kind == "traversal":
            archive.writestr("../../etc/cron.d/evil", b"* * * * * root sh -c 'id'\n")
        elif kind == "absolute":
            archive.writestr("/etc/evil.conf", b"evil\n")
        elif kind == "symlink":
            info = zipfile.ZipInfo("link-to-passwd.pdf")
            info.create_system = 3
            info.external_attr = (stat.S_IFLNK | 0o777) << 16
            archive.writestr(info, b"/etc/passwd")
        elif kind == "bomb":
            info = zipfile.ZipInfo("zeros.csv")
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, b"\0" * (24 * 1024 * 1024))
        elif kind == "too_many":
            for i in range(2100):
                archive.writestr(f"tiny-{i:05d}.csv", b"x")
    return buffer.getvalue()
