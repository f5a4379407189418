"""Suite-wide settings.

Network access is blocked for every test except to loopback (``--block-network``
in pyproject.toml); sandbox services bind 127.0.0.1 on ephemeral ports.
"""

from __future__ import annotations

import os

# Cassettes never re-record in CI: an unmatched request is an error, not a live call.
os.environ.setdefault("NUNTIQ_TESTING", "1")
