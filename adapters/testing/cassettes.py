"""VCR settings shared by every cassette test: scrubbed, replay-only unless asked, order-free queries.

Record modes come from pytest-recording's ``--record-mode`` (default ``none``: an
unmatched request fails the test instead of going live), so this config never sets one.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from adapters.testing.scrub import SecretScrubber

__all__ = ["DEFAULT_MATCH_ON", "cassette_config"]

#: host and port are left out: sandboxes listen on ephemeral ports, real hosts differ from
#: the sandbox; vcrpy's ``query`` matcher already ignores parameter order
DEFAULT_MATCH_ON: tuple[str, ...] = ("method", "path", "query")


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
