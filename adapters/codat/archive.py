"""Safe reading of the zip archives Codat's download endpoint returns.

An archive comes from outside, so it is checked before any member is read. Members whose
names climb out (``../``), absolute names and drive letters, links and other special
entries, encrypted members, duplicate names, and declared sizes or compression ratios
past :class:`ArchiveLimits` are refused one by one (:attr:`SafeArchive.refused`) so the
rest of the day can still land; too many members or too large a total expansion refuse
the whole archive with :class:`UnsafeArchiveError`. Nothing is ever extracted to disk;
members are streamed straight out of the archive file, and ``zipfile`` never returns
more than the declared size of a member and checks its CRC at the end, so a member that
lies about its size fails instead of expanding without bound.
"""

from __future__ import annotations

import io
import re
import stat
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from adapters.codat.settings import ArchiveLimits

_DRIVE = re.compile(r"^[A-Za-z]:")


class ArchiveError(Exception):
    """An archive that cannot be used; ``str()`` names the archive (company and date) and member."""

    def __init__(self, message: str, *, archive: str, member: str | None = None) -> None:
        self.archive = archive
        self.member = member
        where = f"{archive}, member {member!r}" if member is not None else archive
        super().__init__(f"{where}: {message}")


class UnsafeArchiveError(ArchiveError):
    """The archive breaks a safety rule; nothing from it is used."""


class ArchiveLayoutError(ArchiveError):
    """The archive is not what the adapter expects (not a zip, a listed file missing, ...)."""


def check_member_name(name: str) -> str | None:
    """Why ``name`` is unsafe as an archive member name, or ``None`` when it is fine."""
    if not name or name in (".", "/"):
        return "empty name"
    if "\x00" in name:
        return "NUL byte in name"
    if name.startswith(("/", "\\")) or _DRIVE.match(name):
        return "absolute name"
    parts = re.split(r"[\\/]", name)
    if any(part == ".." for part in parts):
        return "name climbs out of the archive (..)"
    return None


def _entry_kind(info: zipfile.ZipInfo) -> str | None:
    """'link' / 'special file' for entries that are not plain files or directories."""
    mode = info.external_attr >> 16
    if not mode:
        return None
    kind = stat.S_IFMT(mode)
    if kind == stat.S_IFLNK:
        return "link"
    if kind and kind not in (stat.S_IFREG, stat.S_IFDIR):
        return "special file"
    return None


@dataclass(frozen=True, slots=True)
class Inspection:
    """The members of an archive that may be read, and those refused one by one (name -> why)."""

    members: dict[str, zipfile.ZipInfo]
    refused: dict[str, str]


def member_name(info: zipfile.ZipInfo) -> str:
    """The member's name as its writer meant it.

    Zip names without the UTF-8 flag are decoded as cp437 by ``zipfile``; many writers
    store UTF-8 there anyway, which turns ``Rechnung_März.pdf`` into mojibake that matches
    no listed file. Such a name is read as UTF-8 when its bytes are valid UTF-8.
    """
    name = info.filename
    if info.flag_bits & 0x800:
        return name
    try:
        return name.encode("cp437").decode("utf-8")
    except (UnicodeEncodeError, UnicodeDecodeError):
        return name


def _member_problem(info: zipfile.ZipInfo, limits: ArchiveLimits) -> str | None:
    """Why this one member must not be read, or ``None``."""
    problem = check_member_name(member_name(info))
    if problem is not None:
        return f"refused: {problem}"
    kind = _entry_kind(info)
    if kind is not None:
        return f"refused: the entry is a {kind}"
    if info.flag_bits & 0x1:
        return "refused: the member is encrypted"
    if info.is_dir():
        return None
    if info.file_size > limits.max_member_bytes:
        return f"refused: expands to {info.file_size} bytes, more than {limits.max_member_bytes}"
    if info.file_size > limits.ratio_floor_bytes:
        ratio = info.file_size / info.compress_size if info.compress_size else float("inf")
        if ratio > limits.max_ratio:
            return f"refused: compression ratio {ratio:.0f}:1 is above {limits.max_ratio:g}:1 (zip bomb?)"
    return None


def inspect_members(infos: list[zipfile.ZipInfo], limits: ArchiveLimits, *, archive: str) -> Inspection:
    """Validate every entry: the readable file members by name, and the refused ones.

    A member that breaks a rule (traversal or absolute name, link, encryption, a size or
    ratio past the limits, a name that occurs twice) is refused on its own, so the rest
    of the day still lands. Only what makes the archive as a whole unsafe to touch (too
    many members, too large a total expansion) raises :class:`UnsafeArchiveError`.
    """
    if len(infos) > limits.max_members:
        raise UnsafeArchiveError(
            f"{len(infos)} members, more than the limit of {limits.max_members}", archive=archive
        )
    members: dict[str, zipfile.ZipInfo] = {}
    refused: dict[str, str] = {}
    total = 0
    for info in infos:
        name = member_name(info)
        problem = _member_problem(info, limits)
        if problem is not None:
            refused[name] = problem
            continue
        if info.is_dir():
            continue
        total += info.file_size
        if total > limits.max_total_bytes:
            raise UnsafeArchiveError(
                f"refused: members expand to more than {limits.max_total_bytes} bytes in total",
                archive=archive,
            )
        if name in members or name in refused:
            members.pop(name, None)
            refused[name] = "refused: the name occurs twice, so which copy is which file is ambiguous"
            continue
        members[name] = info
    return Inspection(members, refused)


class SafeArchive:
    """A validated zip file on disk whose members can be streamed out one at a time.

    ``label`` names the archive in errors (e.g. "codat company X, files of 2026-01-05").
    Each :meth:`open_member` opens the file afresh, so streams are independent and no
    handle stays open between reads.
    """

    def __init__(self, path: Path, *, label: str, limits: ArchiveLimits) -> None:
        self.path = path
        self.label = label
        try:
            with zipfile.ZipFile(path) as archive:
                infos = archive.infolist()
        except zipfile.BadZipFile as exc:
            raise ArchiveLayoutError(f"the download is not a zip archive ({exc})", archive=label) from exc
        inspection = inspect_members(infos, limits, archive=label)
        self.members: Mapping[str, zipfile.ZipInfo] = inspection.members
        #: members refused one by one (name -> reason); they are never opened
        self.refused: Mapping[str, str] = inspection.refused

    @classmethod
    def empty(cls, path: Path, *, label: str) -> SafeArchive:
        """An archive with no members: the answer for a day without files (204, 404, empty body)."""
        archive = cls.__new__(cls)
        archive.path = path
        archive.label = label
        archive.members = {}
        archive.refused = {}
        return archive

    @property
    def names(self) -> list[str]:
        """Every file member, readable or refused, sorted."""
        return sorted({*self.members, *self.refused})

    def size(self, name: str) -> int:
        return self._info(name).file_size

    def _info(self, name: str) -> zipfile.ZipInfo:
        try:
            return self.members[name]
        except KeyError:
            raise ArchiveLayoutError("no such member", archive=self.label, member=name) from None

    def open_member(self, name: str) -> IO[bytes]:
        """A binary stream of one member; close it when done."""
        info = self._info(name)
        archive = zipfile.ZipFile(self.path)
        try:
            inner = archive.open(info)
        except (zipfile.BadZipFile, NotImplementedError, RuntimeError) as exc:
            archive.close()
            raise ArchiveLayoutError(
                f"cannot read the member ({exc})", archive=self.label, member=name
            ) from exc
        return io.BufferedReader(_MemberStream(inner, archive, label=self.label, name=name), 256 * 1024)


class _MemberStream(io.RawIOBase):
    """Wraps a zip member so a corrupt member raises :class:`ArchiveLayoutError` naming it."""

    def __init__(self, inner: IO[bytes], archive: zipfile.ZipFile, *, label: str, name: str) -> None:
        super().__init__()
        self._inner = inner
        self._archive = archive
        self._label = label
        self._name = name

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        try:
            data = self._inner.read(len(buffer))
        except (zipfile.BadZipFile, OSError, EOFError) as exc:
            raise ArchiveLayoutError(
                f"the member is corrupt ({exc})", archive=self._label, member=self._name
            ) from exc
        n = len(data)
        buffer[:n] = data
        return n

    def close(self) -> None:
        if not self.closed:
            try:
                self._inner.close()
            finally:
                self._archive.close()
        super().close()
