"""Keeps secrets out of VCR cassettes: request headers, query strings and both bodies.

VCR applies ``before_record_request`` to recorded *and* replayed requests before
matching, so what is scrubbed here is scrubbed on both sides and replays still match.
Secrets are given as values (a job's ``secrets``) and also caught by shape (``ApiKey``,
``Bearer`` and ``Basic`` credentials, pre-signed URL signatures), so a key the test
author forgot to list still does not land in a cassette.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Iterable
from typing import Any
from urllib.parse import quote, quote_plus, urlsplit, urlunsplit

__all__ = ["REDACTED", "SENSITIVE_HEADERS", "SENSITIVE_QUERY_PARAMS", "SecretScrubber"]

REDACTED = "REDACTED"

#: dropped from recorded requests and responses whatever their value
SENSITIVE_HEADERS = frozenset({"authorization", "cookie", "set-cookie", "x-api-key", "proxy-authorization"})
#: query parameters whose value is replaced whatever it is
SENSITIVE_QUERY_PARAMS = frozenset(
    {"api_key", "apikey", "key", "token", "access_token", "sig", "signature", "x-amz-signature", "password"}
)

_CREDENTIAL_SHAPES = [
    re.compile(r"(ApiKey\s+)[A-Za-z0-9:._\-]+"),
    # at least 16 characters, so prose such as "Basic plan" is left alone
    re.compile(r"(Bearer\s+)[A-Za-z0-9._~+/\-]{16,}=*"),
    re.compile(r"(Basic\s+)[A-Za-z0-9+/]{16,}=*"),
    re.compile(r"((?:\?|&|&amp;|\b)(?:sig|signature|X-Amz-Signature)=)[^&\"'\s<]+", re.IGNORECASE),
]

#: values shorter than this are not scrubbed: replacing "1" everywhere would wreck bodies
MIN_SECRET_LENGTH = 4


class SecretScrubber:
    """Replaces every form of the given secrets (and credential-shaped text) with ``REDACTED``.

    Forms covered per secret: the value, its base64 (``Basic`` auth), its URL-encoded
    forms, and for ``ApiKey SU-…:…`` keys the part after the colon.
    """

    def __init__(self, secrets: Iterable[str] = (), *, replacement: str = REDACTED) -> None:
        self.replacement = replacement
        forms: set[str] = set()
        for secret in secrets:
            if not secret or len(secret) < MIN_SECRET_LENGTH:
                continue
            for value in (secret, secret.removeprefix("ApiKey ").strip(), secret.rpartition(":")[2]):
                if len(value) >= MIN_SECRET_LENGTH:
                    forms |= {value, quote(value, safe=""), quote_plus(value)}
                    forms.add(base64.b64encode(value.encode()).decode())
        self._forms = sorted(forms, key=len, reverse=True)  # longest first: no partial leftovers

    def text(self, value: str) -> str:
        for form in self._forms:
            value = value.replace(form, self.replacement)
        for shape in _CREDENTIAL_SHAPES:
            value = shape.sub(lambda m: m.group(1) + self.replacement, value)
        return value

    def data(self, value: bytes) -> bytes:
        try:
            return self.text(value.decode("utf-8")).encode("utf-8")
        except UnicodeDecodeError:  # binary (an archive): scrub the raw byte forms only
            for form in self._forms:
                value = value.replace(form.encode(), self.replacement.encode())
            return value

    def uri(self, uri: str) -> str:
        parts = urlsplit(uri)
        pairs = []
        for pair in parts.query.split("&") if parts.query else []:
            name, sep, _value = pair.partition("=")
            sensitive = sep and name.lower() in SENSITIVE_QUERY_PARAMS
            pairs.append(f"{name}={self.replacement}" if sensitive else pair)
        return self.text(urlunsplit(parts._replace(query="&".join(pairs))))

    # -- VCR hooks ------------------------------------------------------------------------

    def request(self, request: Any) -> Any:
        """``before_record_request``: headers dropped or scrubbed, query and body scrubbed."""
        for name in list(request.headers):
            if name.lower() in SENSITIVE_HEADERS:
                del request.headers[name]
            elif isinstance(request.headers[name], str):
                request.headers[name] = self.text(request.headers[name])
        request.uri = self.uri(request.uri)
        body = request.body
        if isinstance(body, bytes):
            request.body = self.data(body)
        elif isinstance(body, str):
            request.body = self.text(body)
        return request

    def response(self, response: dict[str, Any]) -> dict[str, Any]:
        """``before_record_response``: secret-bearing headers dropped, body scrubbed."""
        headers = response.get("headers", {})
        for name in list(headers):
            if name.lower() in SENSITIVE_HEADERS:
                del headers[name]
            else:
                headers[name] = [self.text(v) if isinstance(v, str) else v for v in headers[name]]
        body = response.get("body", {})
        raw = body.get("string")
        if isinstance(raw, bytes):
            body["string"] = self.data(raw)
        elif isinstance(raw, str):
            body["string"] = self.text(raw)
        return response
