"""Run a sandbox service on loopback, in a thread or in a child process.

Tests use threads (fast start, shared process); benchmarks, crash tests and the CLI
use child processes so the server does not compete with the client for the GIL and
survives the client being killed. Both bind 127.0.0.1 on an ephemeral port.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import import_module
from typing import Any

import httpx

#: service name -> "module:factory"; each factory takes keyword options and returns an ASGI app
SERVICES: dict[str, str] = {
    "nuntiq": "sandbox.nuntiq.app:create_app",
    "connect": "sandbox.connect.app:create_app",
    "codat": "sandbox.codat.app:create_app",
    "acme": "sandbox.acme.app:create_app",
}

READY_PREFIX = "SANDBOX-LISTENING "


def build_app(service: str, **options: Any) -> Any:
    module_name, _, attr = SERVICES[service].partition(":")
    factory: Callable[..., Any] = getattr(import_module(module_name), attr)
    return factory(**options)


def _bind_loopback(port: int = 0) -> socket.socket:
    # IPPROTO_TCP explicitly: asyncio only sets TCP_NODELAY on accepted sockets whose
    # proto is IPPROTO_TCP; without it every keep-alive response waits ~40 ms for a
    # delayed ACK (Nagle), which made each request cost 40+ ms on loopback.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", port))
    sock.listen(512)
    sock.set_inheritable(True)
    return sock


def _uvicorn_server(app: Any) -> Any:
    import uvicorn

    # a service that sets ``app.state.sends_own_date`` adds (or, as a variant, omits) the
    # Date header itself, so uvicorn must not add one
    own_date = bool(getattr(getattr(app, "state", None), "sends_own_date", False))
    config = uvicorn.Config(
        app,
        log_level="critical",
        access_log=False,
        lifespan="off",
        timeout_keep_alive=30,
        date_header=not own_date,
    )
    return uvicorn.Server(config)


@dataclass
class RunningServer:
    """A started service; ``url`` has no trailing slash. Stop it (or use ``with``)."""

    name: str
    url: str
    _stop: Callable[[], None] = field(repr=False)
    pid: int | None = None

    def stop(self) -> None:
        self._stop()

    def admin(self) -> httpx.Client:
        """A client for the ``/_sandbox`` control endpoints."""
        return httpx.Client(base_url=self.url, timeout=30)

    def set_faults(self, **plan: Any) -> None:
        with self.admin() as client:
            client.put("/_sandbox/faults", json=plan).raise_for_status()

    def stats(self) -> dict[str, int]:
        with self.admin() as client:
            result: dict[str, int] = client.get("/_sandbox/stats").raise_for_status().json()
            return result

    def __enter__(self) -> RunningServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def serve_in_thread(service: str, **options: Any) -> RunningServer:
    """Start ``service`` in a daemon thread of this process."""
    app = build_app(service, **options)
    sock = _bind_loopback()
    server = _uvicorn_server(app)
    thread = threading.Thread(
        target=server.run, kwargs={"sockets": [sock]}, daemon=True, name=f"sandbox-{service}"
    )
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError(f"sandbox service {service!r} did not start")
        time.sleep(0.01)

    def stop() -> None:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()

    host, port = sock.getsockname()
    return RunningServer(service, f"http://{host}:{port}", stop)


def serve_in_subprocess(service: str, **options: Any) -> RunningServer:
    """Start ``service`` in a child Python process and wait until it listens."""
    cmd = [sys.executable, "-m", "sandbox.server", service, json.dumps(options)]
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True, env=env)
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if not line.startswith(READY_PREFIX):
        proc.kill()
        proc.wait()
        raise RuntimeError(f"sandbox service {service!r} failed to start: {line!r}")
    url = line[len(READY_PREFIX) :].strip()

    def stop() -> None:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()

    return RunningServer(service, url, stop, pid=proc.pid)


def main(argv: list[str] | None = None) -> None:
    """Child-process entry: ``python -m sandbox.server SERVICE '{json options}' [port]``."""
    args = sys.argv[1:] if argv is None else argv
    service = args[0]
    options = json.loads(args[1]) if len(args) > 1 else {}
    port = int(args[2]) if len(args) > 2 else 0
    app = build_app(service, **options)
    sock = _bind_loopback(port)
    server = _uvicorn_server(app)
    host, bound = sock.getsockname()
    print(f"{READY_PREFIX}http://{host}:{bound}", flush=True)
    server.run(sockets=[sock])


if __name__ == "__main__":
    main()
