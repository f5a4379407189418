"""The answers Codat may give that the docs leave open, each read correctly by the adapter.

Empty days (empty zip, 404, 204) read as archives without members; every error body
shape the docs show is classified from the HTTP status with its message kept; the
rate-limit headers do not disturb anything and ``Retry-After`` is honoured.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from adapters.codat.client import CodatFilesClient
from adapters.codat.days import DayReader
from adapters.codat.errors import classify
from adapters.codat.source import CodatFilesSource
from adapters.failures import AdapterError, FailureClass
from adapters.retry import Retrier
from lib.jobcontext import FakeClock, RecordingLogger
from sandbox.codat.variants import OPTIONS
from sandbox.server import RunningServer
from tests.codat.conftest import COMPANY, admin_json


def retrier(clock: FakeClock, log: RecordingLogger | None = None) -> Retrier:
    return Retrier(
        classify, source="codat", logger=log, sleep=clock.sleep, clock=clock.clock, rand=lambda: 0.5
    )


def use(codat: RunningServer, **variant: str) -> None:
    admin_json(codat, "PUT", "/_sandbox/codat/variant", json=variant)


@pytest.mark.parametrize("empty_day", OPTIONS["empty_day"])
def test_a_day_without_files_is_an_empty_archive(
    codat: RunningServer, client: CodatFilesClient, fake_clock: FakeClock, tmp_path: Path, empty_day: str
) -> None:
    use(codat, empty_day=empty_day)
    reader = DayReader(client, COMPANY, retrier=retrier(fake_clock), workdir=tmp_path)
    archive = reader.archive("2030-01-01")
    assert not isinstance(archive, Exception)
    assert archive.names == [] and fake_clock.sleeps == []
    full = reader.archive("2026-01-05")
    assert not isinstance(full, Exception) and len(full.names) == 30


@pytest.mark.parametrize("shape", OPTIONS["error_body"])
def test_every_error_body_shape_is_classified_by_status(
    codat: RunningServer, client: CodatFilesClient, fake_clock: FakeClock, shape: str
) -> None:
    use(codat, error_body=shape)
    with (
        CodatFilesSource(client, "no-such-company", retrier=retrier(fake_clock)) as source,
        pytest.raises(AdapterError) as info,
    ):
        list(source.fetch_since(None))
    assert (
        info.value.kind is FailureClass.NOT_FOUND
        and "No company was found with ID no-such-company" in str(info.value)
    )
    admin_json(codat, "PUT", "/_sandbox/codat/quota", json={"exceeded": True})
    with (
        CodatFilesSource(client, COMPANY, retrier=retrier(fake_clock)) as source,
        pytest.raises(AdapterError) as quota,
    ):
        list(source.fetch_since(None))
    assert quota.value.kind is FailureClass.QUOTA and "Account expired" in str(quota.value)


@pytest.mark.parametrize("headers", OPTIONS["rate_headers"])
@pytest.mark.parametrize("shape", OPTIONS["error_body"])
def test_rate_limits_honour_retry_after_in_every_shape(
    codat: RunningServer,
    client: CodatFilesClient,
    fake_clock: FakeClock,
    log: RecordingLogger,
    headers: str,
    shape: str,
) -> None:
    use(codat, rate_headers=headers, error_body=shape)
    codat.set_faults(script=[429, 429], retry_after=7)
    with CodatFilesSource(client, COMPANY, retrier=retrier(fake_clock, log)) as source:
        items = list(source.fetch_since(datetime(2026, 1, 14, tzinfo=UTC)))
    assert len(items) == 30
    assert len(fake_clock.sleeps) == 2 and all(s >= 7 for s in fake_clock.sleeps)
    assert sum("rate_limited (status 429)" in w for w in log.warnings()) == 2


def test_rate_limit_headers_are_sent_as_the_docs_describe(
    codat: RunningServer, client: CodatFilesClient
) -> None:
    use(codat, rate_headers="x_rate_limit")
    import httpx

    from adapters.codat.settings import auth_header
    from tests.codat.conftest import API_KEY

    response = httpx.get(
        f"{codat.url}/companies/{COMPANY}/files", headers={"Authorization": auth_header(API_KEY)}
    )
    assert response.status_code == 200
    limit, remaining = (
        int(response.headers["X-Rate-Limit-Limit"]),
        int(response.headers["X-Rate-Limit-Remaining"]),
    )
    assert 0 <= remaining < limit
    assert datetime.fromisoformat(
        response.headers["X-Rate-Limit-Reset"].replace("Z", "+00:00")
    ) > datetime.now(UTC)


def test_an_unknown_variant_is_refused_naming_the_choices(codat: RunningServer) -> None:
    import httpx

    response = httpx.put(f"{codat.url}/_sandbox/codat/variant", json={"layout": "zigzag"})
    assert response.status_code == 400 and "root, source_type, date, nested" in response.json()["error"]
    response = httpx.put(f"{codat.url}/_sandbox/codat/variant", json={"colour": "red"})
    assert response.status_code == 400 and "colour" in response.json()["error"]
    assert admin_json(codat, "GET", "/_sandbox/codat/variant")["layout"] == "root"
