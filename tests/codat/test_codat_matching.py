"""Matching archive members to listed files, for every layout and numbering the sandbox can build.

The property: whatever the day's files (same names, same names under different source
types, names that look numbered), an archive laid out by any variant matches every
listed file to the member holding *its* bytes. The sandbox's archive builder is the
other side, so a layout the adapter cannot read fails here before any connector runs.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from adapters.codat.layout import DateRule, ListedFile
from adapters.codat.matching import Member, match_day
from sandbox.codat.archives import member_paths
from sandbox.codat.seed import StoredFile
from sandbox.codat.variants import OPTIONS, CodatVariant

DAY = "2026-01-05"
NAMES = ["report.pdf", "invoice-0003.pdf", "scan 2.png", "ledger.csv", "README", "q4 (final).xlsx"]
TYPES = ["Accounting", "Banking", "Other", None]
LAYOUTS = OPTIONS["layout"]
NUMBERINGS = OPTIONS["numbering"]


def listed_and_stored(specs: list[tuple[str, str | None, int]]) -> tuple[list[ListedFile], list[StoredFile]]:
    base = datetime(2026, 1, 5, 8, tzinfo=UTC)
    listed, stored = [], []
    for position, (name, kind, minute) in enumerate(specs):
        moment = base + timedelta(minutes=minute)
        raw = moment.strftime("%Y-%m-%dT%H:%M:%SZ")
        listed.append(ListedFile(name, None, kind, raw, moment, position))
        stored.append(StoredFile(name, None, kind, raw, f"{position}".encode()))
    return listed, stored


def archive_names(stored: list[StoredFile], variant: CodatVariant) -> dict[str, int]:
    chosen = [(i, f, datetime.fromisoformat(f.uploaded).timestamp(), DAY) for i, f in enumerate(stored)]
    return {path: int(f.content) for path, f in member_paths(chosen, variant)}


def check(specs: list[tuple[str, str | None, int]], layout: str, numbering: str) -> None:
    listed, stored = listed_and_stored(specs)
    truth = archive_names(stored, CodatVariant(layout=layout, numbering=numbering))
    assert len(truth) == len(stored), "the builder produced two members with one name"
    result = match_day(listed, list(truth))
    assert result.complete, result.unmatched
    assert {f.position: truth[m] for f, m in result.members.items()} == {
        f.position: f.position for f in listed
    }
    assert not result.unlisted


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("numbering", NUMBERINGS)
def test_same_name_same_day_under_different_source_types(layout: str, numbering: str) -> None:
    check(
        [
            ("report.pdf", "Banking", 30),
            ("report.pdf", "Accounting", 10),  # earlier upload, other source type
            ("report.pdf", "Banking", 20),
            ("report.pdf", "Accounting", 40),
            ("invoice-0003.pdf", "Other", 5),  # looks numbered under the dash scheme
            ("invoice-0003.pdf", "Other", 6),
            ("README", None, 1),
            ("README", None, 2),
        ],
        layout,
        numbering,
    )


spec = st.tuples(st.sampled_from(NAMES), st.sampled_from(TYPES), st.integers(0, 600))


@settings(max_examples=150, deadline=None)
@given(
    specs=st.lists(spec, min_size=1, max_size=14),
    layout=st.sampled_from(LAYOUTS),
    numbering=st.sampled_from(NUMBERINGS),
)
def test_any_day_in_any_layout_matches_each_file_to_its_own_member(
    specs: list[tuple[str, str | None, int]], layout: str, numbering: str
) -> None:
    # equal times included: both sides then order by list position
    check(specs, layout, numbering)


def test_fewer_members_than_same_named_files_is_refused_not_guessed() -> None:
    listed, _ = listed_and_stored([("a.pdf", "Other", 1), ("a.pdf", "Other", 2), ("b.pdf", "Other", 3)])
    result = match_day(listed, ["a (2).pdf", "b.pdf"])
    assert {f.file_name for f in result.members} == {"b.pdf"}
    assert len(result.unmatched) == 2
    assert all("ambiguous" in why and "'a (2).pdf'" in why for why in result.unmatched.values())


def test_two_unnumbered_members_in_folders_that_say_nothing_are_refused() -> None:
    listed, _ = listed_and_stored([("a.pdf", "Other", 1), ("a.pdf", "Other", 2)])
    result = match_day(listed, ["x/a.pdf", "y/a.pdf"])
    assert not result.members and len(result.unmatched) == 2


def test_extra_members_are_reported_as_unlisted() -> None:
    listed, _ = listed_and_stored([("a.pdf", "Other", 1)])
    result = match_day(listed, ["a.pdf", "a (2).pdf", "new.pdf"])
    assert result.complete and result.members[listed[0]] == "a.pdf"
    assert sorted(result.unlisted) == ["a (2).pdf", "new.pdf"]


def test_upload_order_pairing_is_stated() -> None:
    listed, _ = listed_and_stored([("a.pdf", "Other", 2), ("a.pdf", "Banking", 1)])
    result = match_day(listed, ["a.pdf", "a_1.pdf"])
    assert result.members == {listed[1]: "a.pdf", listed[0]: "a_1.pdf"}
    assert any("upload order" in note for note in result.notes)


@pytest.mark.parametrize(
    ("name", "readings"),
    [
        ("a (2).pdf", [("a.pdf", 2)]),
        ("a(3).pdf", [("a.pdf", 3)]),
        ("a_1.pdf", [("a.pdf", 1)]),
        ("a-2.pdf", [("a.pdf", 2)]),
        ("dir/sub/a.pdf", []),
        ("README (2)", [("README", 2)]),
    ],
)
def test_member_readings(name: str, readings: list[tuple[str, int]]) -> None:
    assert Member.parse(name).unnumbered() == readings


def test_day_rules_read_the_same_upload_three_ways() -> None:
    from zoneinfo import ZoneInfo

    raw = "2026-01-06T22:30:00-05:00"  # 03:30Z on the 7th; 04:30 in Berlin on the 7th
    listed = ListedFile("a.pdf", None, None, raw, datetime.fromisoformat(raw).astimezone(UTC), 0)
    berlin = ZoneInfo("Europe/Berlin")
    assert listed.day(DateRule.RAW, berlin) == "2026-01-06"
    assert listed.day(DateRule.UTC, berlin) == "2026-01-07"
    late = ListedFile(
        "b.pdf", None, None, "2026-01-06T23:30:00Z", datetime(2026, 1, 6, 23, 30, tzinfo=UTC), 1
    )
    assert late.day(DateRule.UTC, berlin) == "2026-01-06" and late.day(DateRule.LOCAL, berlin) == "2026-01-07"


def test_names_compare_in_unicode_nfc() -> None:
    decomposed = "Rechnung_Ma\u0308rz.pdf"  # as macOS writes it
    listed, _ = listed_and_stored([(decomposed, "Other", 1)])
    result = match_day(listed, ["Accounting/Rechnung_März.pdf"])
    assert result.members == {listed[0]: "Accounting/Rechnung_März.pdf"}
