"""Archive safety: every unsafe member is refused before any member is read, one by one.

A refused member never blocks the other members of its archive; only what makes the
whole archive unsafe to touch (too many members, too large an expansion) refuses it all.
"""

from __future__ import annotations

import io
import stat
import zipfile
from pathlib import Path

import pytest

from adapters.codat.archive import (
    ArchiveLayoutError,
    SafeArchive,
    UnsafeArchiveError,
    check_member_name,
)
from adapters.codat.settings import ArchiveLimits

LIMITS = ArchiveLimits()


def make_zip(path: Path, entries: list[tuple[str | zipfile.ZipInfo, bytes]]) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in entries:
            archive.writestr(name, data)
    return path


def open_safe(path: Path, limits: ArchiveLimits = LIMITS) -> SafeArchive:
    return SafeArchive(path, label="codat company C, archive of 2026-01-05", limits=limits)


@pytest.mark.parametrize(
    "name",
    ["../evil.pdf", "a/../../evil.pdf", "..\\evil.pdf", "/etc/passwd", "\\share\\x.pdf", "C:evil.pdf"],
)
def test_dangerous_names_are_refused(tmp_path: Path, name: str) -> None:
    assert check_member_name(name) is not None
    path = make_zip(tmp_path / "a.zip", [("ok.pdf", b"fine"), (name, b"evil")])
    archive = open_safe(path)
    assert list(archive.members) == ["ok.pdf"]
    assert set(archive.refused) == {name}
    assert archive.refused[name].startswith("refused:")
    with archive.open_member("ok.pdf") as stream:
        assert stream.read() == b"fine"
    with pytest.raises(ArchiveLayoutError, match="no such member"):
        archive.open_member(name)


def test_nul_and_empty_names_are_refused() -> None:
    # zipfile truncates names at NUL when writing, so this is checked on the name alone
    assert check_member_name("a\x00.pdf") == "NUL byte in name"
    assert check_member_name("") == "empty name"


@pytest.mark.parametrize("name", ["report.pdf", "a..b.pdf", "folder/report (2).pdf", "..hidden.csv"])
def test_ordinary_names_pass(name: str) -> None:
    assert check_member_name(name) is None


def test_symlink_member_is_refused(tmp_path: Path) -> None:
    info = zipfile.ZipInfo("statement.pdf")
    info.create_system = 3
    info.external_attr = (stat.S_IFLNK | 0o777) << 16
    path = make_zip(tmp_path / "a.zip", [(info, b"/etc/passwd"), ("other.pdf", b"x")])
    archive = open_safe(path)
    assert "link" in archive.refused["statement.pdf"]
    assert list(archive.members) == ["other.pdf"]
    assert archive.names == ["other.pdf", "statement.pdf"]


def test_fifo_member_is_refused(tmp_path: Path) -> None:
    info = zipfile.ZipInfo("pipe.csv")
    info.create_system = 3
    info.external_attr = (stat.S_IFIFO | 0o644) << 16
    path = make_zip(tmp_path / "a.zip", [(info, b"")])
    assert "special file" in open_safe(path).refused["pipe.csv"]


def test_regular_unix_file_mode_is_fine(tmp_path: Path) -> None:
    info = zipfile.ZipInfo("ok.csv")
    info.create_system = 3
    info.external_attr = (stat.S_IFREG | 0o644) << 16
    archive = open_safe(make_zip(tmp_path / "a.zip", [(info, b"a,b")]))
    assert list(archive.members) == ["ok.csv"]


def test_too_many_members(tmp_path: Path) -> None:
    path = make_zip(tmp_path / "a.zip", [(f"f{i}.csv", b"x") for i in range(11)])
    with pytest.raises(UnsafeArchiveError, match="11 members"):
        open_safe(path, ArchiveLimits(max_members=10))


def test_total_expanded_size_limit(tmp_path: Path) -> None:
    path = make_zip(tmp_path / "a.zip", [(f"f{i}.csv", bytes(range(256)) * 40) for i in range(5)])
    with pytest.raises(UnsafeArchiveError, match="in total"):
        open_safe(path, ArchiveLimits(max_total_bytes=40_000))


def test_zip_bomb_ratio(tmp_path: Path) -> None:
    path = make_zip(tmp_path / "a.zip", [("zeros.csv", b"\0" * (3 * 1024 * 1024)), ("ok.csv", b"a")])
    archive = open_safe(path)
    assert "compression ratio" in archive.refused["zeros.csv"]
    assert list(archive.members) == ["ok.csv"]


def test_member_size_limit(tmp_path: Path) -> None:
    path = make_zip(tmp_path / "a.zip", [("big.csv", b"x" * 5000)])
    assert "expands to 5000" in open_safe(path, ArchiveLimits(max_member_bytes=4096)).refused["big.csv"]


def test_encrypted_member_is_refused(tmp_path: Path) -> None:
    path = make_zip(tmp_path / "a.zip", [("secret.pdf", b"x")])
    raw = bytearray(path.read_bytes())
    # set the "encrypted" flag bit in the local and central headers
    for signature, offset in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):
        at = raw.find(signature)
        raw[at + offset] |= 0x1
    path.write_bytes(bytes(raw))
    assert "encrypted" in open_safe(path).refused["secret.pdf"]


def test_not_a_zip_names_the_archive(tmp_path: Path) -> None:
    path = tmp_path / "a.zip"
    path.write_bytes(b"<html>maintenance</html>")
    with pytest.raises(ArchiveLayoutError, match=r"2026-01-05.*not a zip"):
        open_safe(path)


@pytest.mark.filterwarnings("ignore:Duplicate name")
def test_duplicate_member_names_are_ambiguous(tmp_path: Path) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("a.pdf", b"1")
        archive.writestr("a.pdf", b"2")
    path = tmp_path / "a.zip"
    path.write_bytes(buffer.getvalue())
    archive = open_safe(path)
    assert "twice" in archive.refused["a.pdf"]
    assert not archive.members


def test_members_stream_and_directories_are_skipped(tmp_path: Path) -> None:
    data = bytes(range(256)) * 2000
    path = make_zip(tmp_path / "a.zip", [("dir/", b""), ("dir/x.csv", data)])
    archive = open_safe(path)
    assert list(archive.members) == ["dir/x.csv"]
    assert archive.size("dir/x.csv") == len(data)
    with archive.open_member("dir/x.csv") as first, archive.open_member("dir/x.csv") as second:
        assert first.read(10) == data[:10]
        assert second.read() == data  # independent streams
    with pytest.raises(ArchiveLayoutError, match="no such member"):
        archive.open_member("other.csv")


def test_corrupt_member_fails_naming_it(tmp_path: Path) -> None:
    path = make_zip(tmp_path / "a.zip", [("x.csv", b"hello world " * 100)])
    raw = bytearray(path.read_bytes())
    at = raw.find(b"PK\x03\x04") + 30 + len("x.csv") + 5
    raw[at] ^= 0xFF
    path.write_bytes(bytes(raw))
    archive = open_safe(path)
    with pytest.raises(ArchiveLayoutError) as info, archive.open_member("x.csv") as stream:
        stream.read()
    assert info.value.member == "x.csv"


def test_utf8_names_without_the_utf8_flag_are_read_as_utf8(tmp_path: Path) -> None:
    path = make_zip(tmp_path / "a.zip", [("Rechnung_Maerz.pdf", b"invoice")])
    # the same bytes a writer produces when it stores UTF-8 without setting the flag
    path.write_bytes(path.read_bytes().replace(b"Maerz", "März".encode()))
    with zipfile.ZipFile(path) as raw:
        assert raw.namelist() == ["Rechnung_M├ñrz.pdf"]  # what zipfile alone makes of it
    archive = open_safe(path)
    assert list(archive.members) == ["Rechnung_März.pdf"]
    with archive.open_member("Rechnung_März.pdf") as stream:
        assert stream.read() == b"invoice"
