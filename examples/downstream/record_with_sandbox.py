"""Re-record this sample's cassette against the adapters repository's Connect sandbox.

Run from the repository root with its development environment:
``.venv/bin/python examples/downstream/record_with_sandbox.py``. The sandbox answers the
first listings page with a 429 (``Retry-After: 2``) so the cassette holds one retry.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import httpx

from sandbox.server import serve_in_thread

HERE = Path(__file__).resolve().parent


def main() -> int:
    with serve_in_thread("connect") as server:
        script = {"script": [429], "retry_after": 2}
        httpx.put(f"{server.url}/_sandbox/faults", json=script).raise_for_status()
        env = {**os.environ, "CONNECT_ENDPOINT": f"{server.url}/public/v1"}
        command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--record-mode=rewrite"]
        return subprocess.call(command, cwd=HERE, env=env)


if __name__ == "__main__":
    sys.exit(main())
