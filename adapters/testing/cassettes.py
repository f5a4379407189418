"""VCR settings shared by every cassette test: scrubbed, replay-only unless asked, order-free queries.

Record modes come from pytest-recording's ``--record-mode`` (default ``none``: an
unmatched request fails the test instead of going live), so this config never sets one.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any
from urllib.parse import unquote, urlsplit

from adapters.testing.scrub import SecretScrubber

__all__ = ["DEFAULT_MATCH_ON", "QUERY_TERMS", "cassette_config", "query_terms"]

#: name the test kit's plugin registers :func:`query_terms` under
QUERY_TERMS = "query_terms"

#: host and port are left out: sandboxes listen on ephemeral ports, real hosts differ from
#: the sandbox. Queries are compared term by term (:func:`query_terms`), not with vcrpy's
#: ``query``, which drops every part without ``=`` and so takes all Connect RQL pages for
#: one request: replaying then depends on the order requests are sent in, which parallel
#: windows do not fix
DEFAULT_MATCH_ON: tuple[str, ...] = ("method", "path", QUERY_TERMS)


def _terms(uri: str) -> list[str]:
    return sorted(unquote(part) for part in urlsplit(uri).query.split("&") if part)


def query_terms(r1: Any, r2: Any) -> None:
    """vcrpy matcher: the same ``&``-separated query terms (RQL included), in any order."""
    assert _terms(r1.uri) == _terms(r2.uri), f"{_terms(r1.uri)} != {_terms(r2.uri)}"


def cassette_config(
    secrets: Iterable[str] = (),
    *,
    match_on: Sequence[str] = DEFAULT_MATCH_ON,
    scrubber: SecretScrubber | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """A ``vcr_config`` dict: secret-bearing headers dropped, secrets scrubbed everywhere.

    ``extra`` is merged last (e.g. ``before_record_request`` wrapping the scrubber to skip
    some traffic, or ``ignore_localhost``).
    """
    scrub = scrubber or SecretScrubber(secrets)
    config: dict[str, Any] = {
        "filter_headers": ["authorization", "cookie", "x-api-key"],
        "before_record_request": scrub.request,
        "before_record_response": scrub.response,
        "match_on": list(match_on),
        "decode_compressed_response": True,
    }
    config.update(extra)
    return config
