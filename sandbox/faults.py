"""Fault injection shared by every sandbox service.

A :class:`FaultPlan` says how a service misbehaves (error rates, ``Retry-After``,
latency, dropped connections, and service-specific knobs such as a page-size cap).
It is applied by :class:`FaultInjector`, a plain ASGI middleware, so the services'
own handlers stay free of fault logic, and it can be replaced at run time through
``PUT /_sandbox/faults``: the same control works whether a service runs in a thread
or in its own process.
"""

from __future__ import annotations

import asyncio
import random
import re
import threading
from collections import Counter
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any, Literal

from pydantic import BaseModel, Field

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

ADMIN_PREFIX = "/_sandbox"

#: a status (error body), "drop" (connection cut mid-body), "malformed" (a complete 200
#: answer whose JSON body is broken, as a misbehaving proxy or server sends) or "pass"
Outcome = int | Literal["drop", "malformed", "pass"]


class FaultPlan(BaseModel):
    """How a service should misbehave. The default plan injects nothing."""

    error_rate: float = Field(0.0, ge=0, le=1, description="share of requests answered with an error")
    statuses: list[int] = Field(default_factory=lambda: [502, 503], description="error statuses to pick from")
    retry_after: float | None = Field(None, ge=0, description="Retry-After seconds sent with 429 and 503")
    drop_rate: float = Field(0.0, ge=0, le=1, description="share of connections dropped mid-response")
    malformed_rate: float = Field(
        0.0, ge=0, le=1, description="share of requests answered 200 with a broken JSON body"
    )
    latency_ms: float = Field(0.0, ge=0, description="added to every response")
    slow_rate: float = Field(0.0, ge=0, le=1, description="share of requests delayed by slow_ms")
    slow_ms: float = Field(0.0, ge=0)
    script: list[Outcome] = Field(
        default_factory=list,
        description="outcomes for the next requests, in order: a status, 'drop', 'malformed' or 'pass'",
    )
    path_pattern: str | None = Field(None, description="regex; faults apply only to matching paths")
    seed: int | None = None
    # Knobs the services read themselves (the middleware ignores them).
    page_size_cap: int | None = Field(None, ge=1, description="largest page a list endpoint returns")
    mutate_rate: float = Field(0.0, ge=0, le=1, description="share of records updated per page served")


class FaultState:
    """The live plan plus counters; thread-safe because tests read it from another thread."""

    def __init__(self, error_body: Callable[[int], dict[str, Any]], plan: FaultPlan | None = None) -> None:
        self._lock = threading.Lock()
        self._error_body = error_body
        self.stats: Counter[str] = Counter()
        self.set_plan(plan or FaultPlan())

    @property
    def plan(self) -> FaultPlan:
        return self._plan

    def set_plan(self, plan: FaultPlan) -> None:
        with self._lock:
            self._plan = plan
            self._script = list(plan.script)
            self._rng = random.Random(plan.seed)
            self._pattern = re.compile(plan.path_pattern) if plan.path_pattern else None

    def error_body(self, status: int) -> dict[str, Any]:
        return self._error_body(status)

    def decide(self, path: str) -> tuple[Outcome, float]:
        """Pick this request's outcome and extra delay (seconds)."""
        with self._lock:
            self.stats["requests"] += 1
            self.stats["requests " + _route(path)] += 1
            plan = self._plan
            if self._pattern is not None and not self._pattern.search(path):
                return "pass", 0.0
            delay = plan.latency_ms / 1000.0
            if plan.slow_rate and self._rng.random() < plan.slow_rate:
                delay += plan.slow_ms / 1000.0
                self.stats["slow"] += 1
            outcome: Outcome = "pass"
            if self._script:
                outcome = self._script.pop(0)
            elif plan.drop_rate and self._rng.random() < plan.drop_rate:
                outcome = "drop"
            elif plan.malformed_rate and self._rng.random() < plan.malformed_rate:
                outcome = "malformed"
            elif plan.error_rate and self._rng.random() < plan.error_rate:
                outcome = self._rng.choice(plan.statuses)
            if outcome != "pass":
                self.stats["faults"] += 1
                self.stats[f"fault_{outcome}"] += 1
            return outcome, delay

    def random(self) -> float:
        """A draw from the plan's seeded generator, for service-side knobs such as mutate_rate."""
        with self._lock:
            return self._rng.random()

    def count(self, name: str, n: int = 1) -> None:
        with self._lock:
            self.stats[name] += n

    def snapshot(self) -> dict[str, int]:
        with self._lock:
            return dict(self.stats)

    def reset_stats(self) -> None:
        with self._lock:
            self.stats.clear()


def _route(path: str) -> str:
    """The first three segments of ``path`` (e.g. ``/v1/custom-data/<table>``): per-route counts stay few."""
    return "/".join(path.split("/")[:4])


class FaultInjector:
    """ASGI middleware applying a :class:`FaultState` to every non-admin request."""

    def __init__(self, app: ASGIApp, state: FaultState) -> None:
        self.app = app
        self.state = state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith(ADMIN_PREFIX):
            await self.app(scope, receive, send)
            return
        outcome, delay = self.state.decide(scope["path"])
        if delay:
            await asyncio.sleep(delay)
        if outcome == "pass":
            await self.app(scope, receive, send)
        elif outcome == "drop":
            await _drop(send)
        elif outcome == "malformed":
            await _malformed(send)
        else:
            await self._send_error(int(outcome), send)

    async def _send_error(self, status: int, send: Send) -> None:
        import json

        body = json.dumps(self.state.error_body(status)).encode()
        headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
        retry_after = self.state.plan.retry_after
        if status in (429, 503) and retry_after is not None:
            headers.append(
                (b"retry-after", str(int(retry_after) if retry_after.is_integer() else retry_after).encode())
            )
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})


class DroppedConnection(Exception):
    """Raised after a partial response so the server closes the connection mid-body."""


async def _drop(send: Send) -> None:
    # Promise a body, send part of it, then fail: the server aborts the connection
    # and the client sees a truncated response, as when a proxy drops mid-transfer.
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-type", b"application/json"), (b"content-length", b"4096")],
        }
    )
    await send({"type": "http.response.body", "body": b'{"partial":', "more_body": True})
    raise DroppedConnection("sandbox fault: connection dropped")


#: what a "malformed" outcome answers: complete (Content-Length matches), status 200,
#: JSON content type, but not parseable JSON
MALFORMED_BODY = b'[{"id": "broken", "updated": "2026-01-01T00:00:00+00:00", '


async def _malformed(send: Send) -> None:
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(MALFORMED_BODY)).encode())]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": MALFORMED_BODY})
