"""Replays a recorded Connect session (with one 429) through the real SDK and the sync driver.

Re-record against the sandbox with ``python record_with_sandbox.py`` (from the adapters
repository) or against real Connect with ``CONNECT_ENDPOINT=... CONNECT_API_KEY=...
pytest --record-mode=rewrite``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest
from conftest import API_KEY, CASSETTES, ENDPOINT
from vendor_listings import STREAM, sync_listings

from adapters.testing import FakeContext, InMemoryDelta, ListSink, RecordingLogger

STORED = "2020-01-01T00:00:00Z"


@pytest.mark.vcr
def test_listings_sync_from_the_stored_cursor(
    fake_context: Callable[..., FakeContext], recording_logger: RecordingLogger, no_retry_sleep: list[float]
) -> None:
    context = fake_context(
        # one request at a time: vcrpy's recorder is not safe for parallel windows' threads
        {
            "connector_name": "vendors",
            "connect_endpoint": ENDPOINT,
            "connect_page_size": 10,
            "connect_parallel_windows": 1,
        },
        secrets={"connect_api_key": API_KEY},
    )
    delta = InMemoryDelta({("vendors", STREAM): STORED})
    sink = ListSink()
    started = time.monotonic()
    summary = sync_listings(context, sink, delta)
    assert time.monotonic() - started < 5  # the recorded 429 is replayed without its wait
    assert summary.items_read == len(sink.durable) > 10  # more than one page
    assert summary.cursor_before == STORED
    assert summary.cursor_after is not None and summary.cursor_after > STORED
    assert delta.cursor("vendors", STREAM) == summary.cursor_after
    assert no_retry_sleep and no_retry_sleep[0] >= 2.0  # the 429's Retry-After was honoured
    assert "retrying" in " ".join(recording_logger.warnings())


def test_cassette_holds_no_secret() -> None:
    texts = [p.read_text(encoding="utf-8") for p in CASSETTES.glob("*.yaml")]
    assert texts, "the cassette is part of the sample"
    secret = API_KEY.rpartition(":")[2]
    assert all(secret not in text and "Authorization" not in text for text in texts)


def test_a_typo_in_settings_fails_before_any_call(fake_context: Callable[..., Any]) -> None:
    context = fake_context({"connector_name": "vendors", "connect_endpont": ENDPOINT})
    with pytest.raises(ValueError, match="did you mean 'connect_endpoint'"):
        sync_listings(context, ListSink(), InMemoryDelta())
