"""NuntiqDocumentSource paging edge cases, against the in-memory API."""

from __future__ import annotations

from core_fakes import FakeApi, at

from adapters.cursor import format_cursor
from adapters.nuntiq import NuntiqDocumentSource
from adapters.retry import Retrier


def add(api: FakeApi, doc_id: str, created: str, *names: str) -> None:
    files = []
    for name in names:
        token = f"att-{doc_id}-{name}"
        api.blobs[token] = name.encode()
        files.append({"file_name": name, "size": len(name), "sha256": None, "attachment_token": token})
    api.documents.append({"id": doc_id, "created_at": created, "files": files})


def test_ties_larger_than_a_page_are_neither_skipped_nor_repeated() -> None:
    api = FakeApi()
    same = format_cursor(at(1))
    add(api, "a", format_cursor(at(0)), "a.pdf")
    for i in range(5):
        add(api, f"t{i}", same, f"t{i}.pdf")
    add(api, "z", format_cursor(at(2)), "z1.pdf", "z2.pdf")
    items = list(NuntiqDocumentSource(api, page_size=2, retrier=Retrier.direct()).fetch_since(None))
    assert [i.key for i in items] == ["a/a.pdf"] + [f"t{i}/t{i}.pdf" for i in range(5)] + [
        "z/z1.pdf",
        "z/z2.pdf",
    ]
    assert items[1].cursor == at(1)
    with items[-1].open() as stream:
        assert stream.read() == b"z2.pdf"


def test_bound_is_inclusive_and_empty_listing_ends() -> None:
    api = FakeApi()
    assert list(NuntiqDocumentSource(api, retrier=Retrier.direct()).fetch_since(None)) == []
    for i in range(4):
        add(api, f"d{i}", format_cursor(at(i)), f"d{i}.pdf")
    items = list(NuntiqDocumentSource(api, page_size=3, retrier=Retrier.direct()).fetch_since(at(2)))
    assert [i.key for i in items] == ["d2/d2.pdf", "d3/d3.pdf"]


def test_page_size_validated() -> None:
    import pytest

    with pytest.raises(ValueError, match="page_size"):
        NuntiqDocumentSource(FakeApi(), page_size=0, retrier=Retrier.direct())
