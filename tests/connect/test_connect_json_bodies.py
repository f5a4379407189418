"""Connect response bodies decoded by msgspec give exactly what ``json.loads`` gives.

``adapters.jsonbody`` trusts msgspec only where the two agree; these tests are the
evidence: generated documents and raw bytes decode the same way (or msgspec refuses and
the standard library path answers), the edge cases each decoder treats differently fall
back, and a page read through the real SDK is decoded by the fast path.
"""

from __future__ import annotations

import json
import math
from typing import Any

import pytest
import requests
from hypothesis import given, settings
from hypothesis import strategies as st

from adapters.jsonbody import REFUSED, FastJsonResponse, decode_json_bytes, use_fast_json
from sandbox.server import RunningServer
from tests.connect.conftest import make_client

_json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**40), max_value=10**40)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda children: st.lists(children, max_size=5)
    | st.dictionaries(st.text(max_size=8), children, max_size=5),
    max_leaves=30,
)


#: characters and escapes JSON is made of, plus a few that break it
_JSON_PIECES = [*'{}[],:"\\ 0123456789.-+eEtrufalsn\ud7ff\u00e9xu', "\\u", "\\ud800"]


def _same(a: Any, b: Any) -> bool:
    """Equal, with the types too (``1`` and ``1.0`` and ``True`` are different decodes)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return list(a) == list(b) and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, float):
        return a == b and math.copysign(1, a) == math.copysign(1, b)
    return bool(a == b)


@settings(max_examples=400, deadline=None)
@given(_json_values, st.booleans(), st.sampled_from([None, 1]))
def test_generated_documents_decode_as_the_standard_library_does(
    value: Any, ascii_only: bool, indent: Any
) -> None:
    text = json.dumps(value, ensure_ascii=ascii_only, indent=indent)
    fast = decode_json_bytes(text.encode())
    assert _same(fast, json.loads(text))


@settings(max_examples=600, deadline=None)
@given(st.lists(st.sampled_from(_JSON_PIECES), max_size=30).map("".join))
def test_msgspec_never_accepts_what_the_standard_library_refuses(fragment: str) -> None:
    """Whatever msgspec decodes, ``json.loads`` decodes to the same value (never the other way round)."""
    content = fragment.encode("utf-8", "surrogatepass")
    fast = decode_json_bytes(content)
    if fast is REFUSED:  # msgspec refused: the stdlib path decides
        return
    assert _same(fast, json.loads(content.decode("utf-8")))


def _response(content: bytes, content_type: str = "application/json", *, fast: bool = True) -> Any:
    """A response as requests builds it; with ``fast``, switched by the adapter's hook."""
    response = requests.Response()
    response._content = content
    response.status_code = 200
    response.headers["Content-Type"] = content_type
    response.encoding = requests.utils.get_encoding_from_headers(response.headers)
    if fast:
        use_fast_json(response)
        assert type(response) is FastJsonResponse
    return response


@pytest.mark.parametrize(
    "body",
    [
        b'[123456789012345678901234567890, -9223372036854775809, 18446744073709551616]',  # beyond 64 bits
        b'[NaN, Infinity, -Infinity]',  # the stdlib accepts these, msgspec does not
        b'[1e400]',  # beyond a double: inf for the stdlib
        b'["\\ud800"]',  # a lone surrogate escape
        b'{"a": 1, "a": 2}',  # duplicate keys: the last wins in both
        b'{"name": "caf\xc3\xa9", "n": -0.0}',
    ],
)
def test_responses_decode_edge_cases_exactly_as_requests_would(body: bytes) -> None:
    expected = _response(body, fast=False).json()
    got = _response(body).json()
    assert repr(got) == repr(expected)


@pytest.mark.parametrize(
    "body",
    [b"\xef\xbb\xbf[1]", b"[1] trailing", b"", b"\xff\xfe[\x001\x00]\x00", b"{\"a\": \xff}"],
)
def test_bodies_msgspec_refuses_fail_or_succeed_as_requests_would(body: bytes) -> None:
    try:
        expected: Any = ("value", _response(body, fast=False).json())
    except requests.exceptions.JSONDecodeError as exc:
        expected = ("error", type(exc), exc.msg)
    try:
        got: Any = ("value", _response(body).json())
    except requests.exceptions.JSONDecodeError as exc:
        got = ("error", type(exc), exc.msg)
    assert got == expected


def test_other_charsets_and_options_take_the_requests_path() -> None:
    latin = _response('["caf\u00e9"]'.encode("latin-1"), "application/json; charset=latin-1")
    assert latin.json() == ["caf\u00e9"]
    assert _response(b"[1.5]").json(parse_float=str) == ["1.5"]


def test_pages_read_through_the_sdk_use_the_fast_decoder(connect: RunningServer) -> None:
    client = make_client(connect.url)
    listings = client.get("listings", params={"limit": 50})
    response = client.response
    assert type(response) is FastJsonResponse
    assert len(listings) > 0
    assert _same(listings, json.loads(response.content))


def _plain_client(url: str) -> Any:
    """The SDK's own ``ConnectClient``, with none of the adapter's response hooks."""
    from connect.client import ConnectClient

    from adapters.connect import ConnectSettings
    from sandbox.connect.app import DEFAULT_API_KEY

    endpoint = ConnectSettings(endpoint=url).endpoint
    return ConnectClient(DEFAULT_API_KEY, endpoint=endpoint, use_specs=False, max_retries=0, logger=None)


def test_a_body_cut_off_mid_read_fails_as_it_does_without_the_fast_path(connect: RunningServer) -> None:
    """The large reads go through requests' own ``iter_content``: the same error reaches the SDK."""
    connect.set_faults(drop_rate=1.0, path_pattern="^/public/v1/listings")
    seen = []
    for client in (make_client(connect.url), _plain_client(connect.url)):
        with pytest.raises(Exception) as caught:
            client.get("listings", params={"limit": 200})
        seen.append((type(caught.value), getattr(caught.value, "status_code", None)))
    connect.set_faults()
    assert seen[0] == seen[1]


def test_a_page_reads_the_same_bytes_and_records_as_the_sdk_alone(connect: RunningServer) -> None:
    fast, plain = make_client(connect.url), _plain_client(connect.url)
    records = fast.get("listings", params={"limit": 500})
    assert records == plain.get("listings", params={"limit": 500})
    assert fast.response.content == plain.response.content
    assert len(fast.response.content) > 5 * 10_240  # several of requests' own 10 KB reads
