"""Building the zip archives the sandbox's download endpoint returns, good and bad.

The layout and the duplicate numbering follow the sandbox's :class:`CodatVariant`
(:mod:`sandbox.codat.variants`): members at the root or in per-``sourceType``, per-date
or nested folders; a name repeated in one folder numbered ``x (2).pdf``, ``x_1.pdf`` or
``x-2.pdf`` in upload order. The "bad" archives exist so tests can check the adapter
refuses them.
"""

from __future__ import annotations

import io
import stat
import zipfile
from collections.abc import Iterable

from sandbox.codat.seed import StoredFile
from sandbox.codat.variants import CodatVariant

#: (list position, file, uploaded epoch, date the file is selected under)
Chosen = tuple[int, StoredFile, float, str]


def numbered(name: str, n: int, scheme: str) -> str:
    """The ``n``-th (1-based) copy of ``name`` in one folder under a numbering ``scheme``."""
    if n <= 1:
        return name
    stem, dot, ext = name.rpartition(".")
    if not (dot and stem):
        stem, ext = name, ""
    suffix = {"paren": f" ({n})", "underscore": f"_{n - 1}", "dash": f"-{n}"}[scheme]
    return f"{stem}{suffix}.{ext}" if ext else f"{stem}{suffix}"


def folder(stored: StoredFile, day: str, layout: str) -> str:
    kind = stored.source_type or "Unknown"
    return {"root": "", "source_type": f"{kind}/", "date": f"{day}/", "nested": f"{day}/{kind}/"}[layout]


def member_paths(files: Iterable[Chosen], variant: CodatVariant) -> list[tuple[str, StoredFile]]:
    """Member path of every file, numbered in upload order within its folder."""
    seen: dict[str, int] = {}
    out: list[tuple[str, StoredFile]] = []
    for _, stored, _, day in sorted(files, key=lambda f: (f[2], f[0])):
        place = folder(stored, day, variant.layout) + stored.file_name
        count = seen.get(place, 0) + 1
        seen[place] = count
        prefix = folder(stored, day, variant.layout)
        out.append((prefix + numbered(stored.file_name, count, variant.numbering), stored))
    return out


def build_archive(files: Iterable[Chosen], variant: CodatVariant | None = None) -> bytes:
    """Zip of the chosen files, laid out and numbered as ``variant`` says."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path, stored in member_paths(files, variant or CodatVariant()):
            archive.writestr(path, stored.content)
    return buffer.getvalue()


MALICIOUS_KINDS = ("traversal", "absolute", "symlink", "bomb", "not_zip", "missing", "too_many")


def build_malicious(kind: str, files: list[Chosen], variant: CodatVariant | None = None) -> bytes:
    """An archive for one date that breaks the rules in the way ``kind`` names.

    The genuine files are included too (laid out as ``variant`` says; for ``missing``
    all but the earliest upload), so only the bad entry makes it unsafe.
    """
    if kind == "not_zip":
        return b"<html><body>Service temporarily unavailable</body></html>"
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        genuine = member_paths(files, variant or CodatVariant())
        for path, stored in genuine[1:] if kind == "missing" else genuine:
            archive.writestr(path, stored.content)
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
