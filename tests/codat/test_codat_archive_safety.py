"""Archive safety: every unsafe shape is refused before any member is read."""

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
from adapters.codat.layout import ListedFile, member_names, numbered_name
from adapters.codat.settings import ArchiveLimits
from adapters.cursor import parse_timestamp

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
    with pytest.raises(UnsafeArchiveError) as info:
        open_safe(path)
    assert "2026-01-05" in str(info.value)
    assert info.value.member == name


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
    path = make_zip(tmp_path / "a.zip", [(info, b"/etc/passwd")])
    with pytest.raises(UnsafeArchiveError, match="link"):
        open_safe(path)


def test_fifo_member_is_refused(tmp_path: Path) -> None:
    info = zipfile.ZipInfo("pipe.csv")
    info.create_system = 3
    info.external_attr = (stat.S_IFIFO | 0o644) << 16
    path = make_zip(tmp_path / "a.zip", [(info, b"")])
    with pytest.raises(UnsafeArchiveError, match="special file"):
        open_safe(path)


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
    path = make_zip(tmp_path / "a.zip", [("zeros.csv", b"\0" * (3 * 1024 * 1024))])
    with pytest.raises(UnsafeArchiveError, match="compression ratio"):
        open_safe(path)


def test_member_size_limit(tmp_path: Path) -> None:
    path = make_zip(tmp_path / "a.zip", [("big.csv", b"x" * 5000)])
    with pytest.raises(UnsafeArchiveError, match="expands to 5000"):
        open_safe(path, ArchiveLimits(max_member_bytes=4096))


def test_encrypted_member_is_refused(tmp_path: Path) -> None:
    path = make_zip(tmp_path / "a.zip", [("secret.pdf", b"x")])
    raw = bytearray(path.read_bytes())
    # set the "encrypted" flag bit in the local and central headers
    for signature, offset in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):
        at = raw.find(signature)
        raw[at + offset] |= 0x1
    path.write_bytes(bytes(raw))
    with pytest.raises(UnsafeArchiveError, match="encrypted"):
        open_safe(path)


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
    with pytest.raises(ArchiveLayoutError, match="twice"):
        open_safe(path)


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


def _listed(name: str, uploaded: str, position: int) -> ListedFile:
    return ListedFile(name, None, "Other", uploaded, parse_timestamp(uploaded), position)


def test_layout_numbers_same_day_duplicates_in_upload_order() -> None:
    late = _listed("a.pdf", "2026-01-05T10:00:00Z", 0)
    early = _listed("a.pdf", "2026-01-05T09:00:00Z", 1)
    tie = _listed("a.pdf", "2026-01-05T10:00:00Z", 2)
    other = _listed("b.pdf", "2026-01-05T08:00:00Z", 3)
    names = member_names([late, early, tie, other])
    assert names == {early: "a.pdf", late: "a (2).pdf", tie: "a (3).pdf", other: "b.pdf"}
    assert numbered_name("README", 2) == "README (2)"
    assert numbered_name("x.tar.gz", 3) == "x.tar (3).gz"
