"""The test kit's fixtures come from its pytest plugin; this file only says what is secret."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

#: the key the cassette was recorded with (a sandbox key); a real one comes from the environment
API_KEY = os.environ.get("CONNECT_API_KEY", "ApiKey SU-000-000-000:sandbox-connect-key")
#: replaying never contacts this address: the cassette answers instead
ENDPOINT = os.environ.get("CONNECT_ENDPOINT", "http://127.0.0.1:9/public/v1")
CASSETTES = Path(__file__).parent / "cassettes"


@pytest.fixture
def nuntiq_secrets() -> list[str]:
    return [API_KEY]


@pytest.fixture(scope="module")
def vcr_cassette_dir() -> str:
    return str(CASSETTES)
