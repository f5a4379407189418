"""``select(-field)`` on lists whose spec does not name it: honoured, ignored or refused.

The supplier connector asks Connect to leave out the nested objects it never maps. No
reference says what ``/listings`` does with that, so the sandbox serves all three
answers (``sandbox/connect/variants.py``, option ``select``) and each must give the same
records the mapping reads; a refusal costs one request and is not asked again.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from connect.client import ClientError

from adapters.connect import ListingsSource
from adapters.connect.paging import Page, Selection
from adapters.retry import RetryPolicy
from adapters.testing import RecordingLogger
from connectors.connect_pull_suppliers import UNREAD_LISTING_FIELDS
from sandbox.server import RunningServer
from tests.connect.conftest import make_client, reset_connect

FAST_RETRY = RetryPolicy(max_attempts=3, initial_wait=0.01, max_wait=0.02, max_total=5)


def read(server: RunningServer, variant: str, logger: RecordingLogger, **kwargs: Any) -> list[dict[str, Any]]:
    with server.admin() as admin:
        admin.put("/_sandbox/connect/variants", json={"select": variant}).raise_for_status()
        admin.post("/_sandbox/stats/reset").raise_for_status()
    client = make_client(server.url, page_size=100)
    source = ListingsSource(client, policy=FAST_RETRY, logger=logger, **kwargs)
    return [dict(item.as_mapping()) for item in source.fetch_since(None)]


@pytest.mark.parametrize("variant", ["honoured", "ignored", "refused"])
def test_every_answer_to_select_gives_the_fields_the_mapping_reads(
    connect_server: RunningServer, variant: str
) -> None:
    reset_connect(connect_server, seed=3, counts={"listings": 450})
    truth = {r["id"]: r for r in httpx.get(f"{connect_server.url}/_sandbox/connect/dump/listings").json()}
    logger = RecordingLogger()
    records = read(connect_server, variant, logger, exclude_fields=UNREAD_LISTING_FIELDS, parallel_windows=1)
    requests = connect_server.stats()["requests"]
    assert {r["id"] for r in records} == set(truth)
    for record in records:
        expected = truth[record["id"]]
        assert (record["updated"], record["vendor"]) == (expected["updated"], expected["vendor"])
        assert ("product" in record) is (variant != "honoured")
    refusals = [w for w in logger.warnings() if "refused select" in w]
    assert len(refusals) == (1 if variant == "refused" else 0), logger.warnings()
    whole = read(connect_server, variant, RecordingLogger(), parallel_windows=1)
    assert requests == connect_server.stats()["requests"] + (1 if variant == "refused" else 0)
    assert all("product" in r for r in whole)


def test_the_fields_the_reader_needs_cannot_be_excluded() -> None:
    with pytest.raises(ValueError, match=r"cannot exclude \['id', 'updated'\]"):
        ListingsSource(make_client("http://127.0.0.1:9"), exclude_fields=("updated", "vendor", "id"))


def _page() -> Page[dict[str, Any]]:
    return Page([{"id": "L1"}], total=1, start=0)


def _refusing(asked: list[tuple[str, ...]], *, plain_too: bool = False) -> Any:
    def fetch(fields: Any) -> Page[dict[str, Any]]:
        asked.append(tuple(fields))
        if fields or plain_too:
            raise ClientError(status_code=400, message="no")
        return _page()

    return fetch


def test_a_refused_selection_is_dropped_for_good_and_a_400_to_both_is_the_requests_own() -> None:
    asked: list[tuple[str, ...]] = []
    logger = RecordingLogger()
    selection = Selection(("-product",), logger=logger)
    assert selection.call(_refusing(asked), path="/listings", step="t").items == [{"id": "L1"}]
    assert selection.call(_refusing(asked), path="/listings", step="t").items == [{"id": "L1"}]
    assert asked == [("-product",), (), ()] and selection.fields == ()
    assert len(logger.warnings()) == 1 and "select(-product)" in logger.warnings()[0]

    asked.clear()
    stubborn = Selection(("-product",))
    with pytest.raises(ClientError) as caught:
        stubborn.call(_refusing(asked, plain_too=True), path="/listings", step="t")
    assert caught.value.status_code == 400 and stubborn.fields == ("-product",)
    assert asked == [("-product",), ()]


@pytest.mark.parametrize("page", [100, 1000])
def test_a_transient_failure_of_the_ask_without_select_is_retried_not_taken_for_a_refusal(
    connect_server: RunningServer, page: int
) -> None:
    """select refused, then a 503 to the plain ask: the retrier's, not a 400 for the limit."""
    reset_connect(connect_server, seed=4, counts={"listings": 300})
    with connect_server.admin() as admin:
        admin.put("/_sandbox/connect/variants", json={"select": "refused"}).raise_for_status()
        faults = {"script": ["pass", 503], "path_pattern": "/listings"}
        admin.put("/_sandbox/faults", json=faults).raise_for_status()
    logger = RecordingLogger()
    source = ListingsSource(make_client(connect_server.url, page_size=page), policy=FAST_RETRY, logger=logger,
                            exclude_fields=UNREAD_LISTING_FIELDS, parallel_windows=1)  # fmt: skip
    assert len({item.key for item in source.fetch_since(None)}) == 300
    assert source.page_size.value == page, "a 503 must not lower the page size"
    assert not [w for w in logger.warnings() if "refused limit" in w]
    assert source.selection.fields == ()


def test_a_transient_failure_is_raised_as_itself() -> None:
    def fetch(fields: Any) -> Page[dict[str, Any]]:
        raise ClientError(status_code=400 if fields else 503, message="busy")

    with pytest.raises(ClientError) as caught:
        Selection(("-product",)).call(fetch, path="/listings", step="t")
    assert caught.value.status_code == 503
