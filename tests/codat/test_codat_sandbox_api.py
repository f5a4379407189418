"""The Codat sandbox itself: auth, errors in Codat's shape, upload rules, archives, seed."""

from __future__ import annotations

import base64
import io
import zipfile
from collections import Counter
from typing import Any

import httpx
import pytest

from sandbox.codat.seed import generate, load_seed
from sandbox.server import RunningServer
from tests.codat.conftest import API_KEY, COMPANY, CONNECTION

AUTH = {"Authorization": "Basic " + base64.b64encode(API_KEY.encode()).decode()}
ERROR_KEYS = {"statusCode", "service", "error", "correlationId", "canBeRetried", "detailedErrorCode"}


def call(server: RunningServer, method: str, path: str, **kwargs: Any) -> httpx.Response:
    headers = kwargs.pop("headers", AUTH)
    with httpx.Client(base_url=server.url, timeout=30) as client:
        return client.request(method, path, headers=headers, **kwargs)


def test_wrong_or_missing_key_is_401_in_codat_shape(codat: RunningServer) -> None:
    for headers in ({}, {"Authorization": "Basic " + base64.b64encode(b"nope").decode()}):
        response = call(codat, "GET", f"/companies/{COMPANY}/files", headers=headers)
        assert response.status_code == 401 and response.json().keys() >= ERROR_KEYS


def test_unknown_connection_is_404(codat: RunningServer) -> None:
    response = call(
        codat, "POST", f"/companies/{COMPANY}/connections/nope/files", files={"file": ("a.pdf", b"x")}
    )
    assert response.status_code == 404 and "nope" in response.json()["error"]


def test_upload_rules(codat: RunningServer) -> None:
    path = f"/companies/{COMPANY}/connections/{CONNECTION}/files"
    too_many = [("file", (f"f{i}.pdf", b"x", "application/pdf")) for i in range(21)]
    response = call(codat, "POST", path, files=too_many)
    assert response.status_code == 400
    assert "At most 20" in response.json()["validation"]["errors"][0]["message"]
    response = call(codat, "POST", path, files=[("file", ("run.exe", b"MZ", "application/octet-stream"))])
    assert response.status_code == 400 and "run.exe" in str(response.json()["validation"])
    response = call(codat, "POST", path, files=[("file", ("ok.PNG", b"\x89PNG", "image/png"))])
    assert response.status_code == 200 and response.content == b""


def test_download_with_and_without_date(codat: RunningServer) -> None:
    everything = call(codat, "GET", f"/companies/{COMPANY}/files/download")
    assert everything.headers["content-type"] == "application/octet-stream"
    with zipfile.ZipFile(io.BytesIO(everything.content)) as archive:
        assert len(archive.namelist()) == 300
    one_day = call(
        codat, "GET", f"/companies/{COMPANY}/files/download", params={"date": "2026-01-05T00:00:00"}
    )
    with zipfile.ZipFile(io.BytesIO(one_day.content)) as archive:
        names = archive.namelist()
    assert len(names) == 30 and any(" (2)." in n for n in names)


def test_fault_errors_use_codat_body_and_retry_after(codat: RunningServer) -> None:
    codat.set_faults(script=[429], retry_after=5)
    response = call(codat, "GET", f"/companies/{COMPANY}/files")
    assert response.status_code == 429 and response.headers["retry-after"] == "5"
    assert response.json().keys() >= ERROR_KEYS


def test_unknown_route_answers_in_codat_shape(codat: RunningServer) -> None:
    response = call(codat, "GET", "/no/such/route")
    assert response.status_code == 404 and response.json().keys() >= ERROR_KEYS


@pytest.mark.parametrize("company", [COMPANY])
def test_seed_is_deterministic_and_awkward(company: str) -> None:
    first = generate(load_seed())[company].files
    second = generate(load_seed())[company].files
    assert [(f.file_name, f.uploaded, f.content) for f in first] == [
        (f.file_name, f.uploaded, f.content) for f in second
    ]
    per_day = Counter((f.uploaded[:10], f.file_name) for f in first)
    assert any(n > 1 for n in per_day.values())  # same name twice on one day
    assert any(len(f.uploaded) == 19 for f in first)  # zone-less
    assert any(f.uploaded.endswith("-05:00") for f in first)  # an offset
    assert len({f.uploaded[:10] for f in first}) == 10
