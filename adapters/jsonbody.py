"""JSON response bodies read in large reads and decoded by msgspec, with the stdlib's result.

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
SDK would have produced. One known difference: within a few levels of Python's
recursion limit, msgspec still decodes nesting the standard library refuses with
``RecursionError``. ``tests/connect/test_connect_json_bodies.py`` checks the agreement
on generated documents and on raw bytes.

The body is also read in reads of up to 1 MB instead of requests' 10 KB ones, through
requests' own ``iter_content`` (so a broken connection raises what it always raised).
The SDK still sends the request, reads the response and calls ``response.json()``;
only the read size and the decoder under that call change (:class:`FastJsonResponse`).
"""

from __future__ import annotations

from typing import Any, Final

import msgspec
import requests

__all__ = ["BODY_READ_BYTES", "REFUSED", "FastJsonResponse", "decode_json_bytes", "use_fast_json"]

_DECODER = msgspec.json.Decoder()

#: the most one read of a response body asks for (a Connect page of 1000 listings is about 1 MB)
BODY_READ_BYTES = 1 << 20
#: what :func:`decode_json_bytes` returns for a body msgspec refuses (never a decoded value)
REFUSED: Final = object()


def decode_json_bytes(content: bytes) -> Any:
    """``content`` decoded by msgspec, or :data:`REFUSED` when msgspec refuses it."""
    try:
        return _DECODER.decode(content)
    except (msgspec.DecodeError, msgspec.ValidationError, RecursionError):
        return REFUSED


class FastJsonResponse(requests.Response):
    """A ``requests.Response`` that reads its body in large reads and decodes UTF-8 JSON with msgspec.

    Only the read size and the decoder differ, the decoder only where msgspec gives the
    standard library's answer; every other case is ``requests.Response`` unchanged.
    """

    @property
    def content(self) -> bytes:
        """The body, read in reads of up to :data:`BODY_READ_BYTES` instead of requests' 10 KB.

        ``requests`` reads a body in 10 KB chunks, each through several layers of
        urllib3 and ``http.client``: about a hundred reads for one 1 MB list page. The
        same ``iter_content`` is used (with its mapping of read errors to requests'
        exceptions), only with larger reads; the rest is ``requests.Response.content``.
        """
        state = self.__dict__  # requests' private read state (``_content`` False: not read yet)
        unread = state.get("_content") is False and not state.get("_content_consumed")
        if unread and self.status_code != 0 and self.raw is not None:
            self._content = b"".join(self.iter_content(BODY_READ_BYTES)) or b""
        body: bytes = super().content
        return body

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
