"""JSON response bodies decoded by msgspec, with exactly the standard library's result.

A Connect list page of 1000 listings is about 1 MB of JSON, and decoding it is the
largest single cost of reading a listing; msgspec does it in about two thirds of the
standard library's time (``bench/README.md`` has the connector's figures). It keeps
integers of any size exact (``orjson``, also tried, turns integers past 64 bits into
floats without an error, which would change a payload silently).

The two decoders are not the same language, so msgspec is only trusted where it is
known to agree: a UTF-8 body with no decoding options. Everything msgspec refuses
(``NaN``/``Infinity``, numbers beyond a double, lone surrogate escapes, invalid UTF-8,
a byte-order mark, nesting deeper than it allows) goes to the standard library path
the response would have taken anyway, so the result, or the error, is the one the
SDK would have produced. ``tests/connect/test_connect_json_bodies.py`` checks the agreement
on generated documents and on raw bytes.

The SDK still sends the request, reads the response and calls ``response.json()``;
only the decoder under that call changes (:class:`FastJsonResponse`).
"""

from __future__ import annotations

from typing import Any, Final

import msgspec
import requests

__all__ = ["REFUSED", "FastJsonResponse", "decode_json_bytes", "use_fast_json"]

_DECODER = msgspec.json.Decoder()
#: what :func:`decode_json_bytes` returns for a body msgspec refuses (never a decoded value)
REFUSED: Final = object()


def decode_json_bytes(content: bytes) -> Any:
    """``content`` decoded by msgspec, or :data:`REFUSED` when msgspec refuses it."""
    try:
        return _DECODER.decode(content)
    except (msgspec.DecodeError, msgspec.ValidationError, RecursionError):
        return REFUSED


class FastJsonResponse(requests.Response):
    """A ``requests.Response`` whose ``json()`` decodes UTF-8 bodies with msgspec.

    Only the decoder differs, and only where msgspec gives the standard library's
    answer; every other case is ``requests.Response.json`` unchanged.
    """

    def json(self, **kwargs: Any) -> Any:
        encoding = self.encoding
        if not kwargs and (encoding is None or encoding.lower().replace("_", "-") in ("utf-8", "utf8")):
            content = self.content
            if content:
                value = decode_json_bytes(content)
                if value is not REFUSED:
                    return value
        return super().json(**kwargs)


def use_fast_json(response: requests.Response, *args: Any, **kwargs: Any) -> None:
    """A ``requests`` response hook: ``response.json()`` from now on decodes with msgspec.

    ``FastJsonResponse`` adds no state to ``requests.Response``, so switching the class
    of a response already built keeps every attribute the SDK reads.
    """
    if type(response) is requests.Response:
        response.__class__ = FastJsonResponse
