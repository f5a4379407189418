"""The Acme sandbox service: ``GET /suppliers`` with bearer auth, in one paging style per instance.

``paging="page"`` is the recipe's API: ``?updated_after=&page=&per_page=`` answering
``{"data": [...], "next_page": N+1 | null}``. The other styles serve the same data:

* ``offset``: ``?offset=&limit=`` -> ``{"data", "total"}``;
* ``token``: ``?cursor=&limit=`` -> ``{"data", "next_cursor"}`` (an opaque position);
* ``next_url``: ``?limit=`` -> ``{"data", "next": "/suppliers?..."}``;
* ``link``: ``?page=&per_page=`` -> ``{"data"}`` and a ``Link: <...>; rel="next"`` header;
* ``keyset``: ``?updated_since=&after_number=&limit=`` -> ``{"data"}`` ordered by
  (``updated_at``, ``number``).

Faults come from the shared :class:`~sandbox.faults.FaultPlan` (502/503 and 429 with
``Retry-After`` as the recipe warns, dropped connections, a page-size cap, random
updates while paging); ``rate_per_second`` adds Acme's own "too fast" 429s.
"""

from __future__ import annotations

import base64
import copy
import threading
import time
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from sandbox.acme.store import PAGING_STYLES, AcmeStore, Quirks, parse_stamp
from sandbox.admin import install_faults
from sandbox.faults import FaultPlan, FaultState

DEFAULT_TOKEN = "sandbox-acme-token"
DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 200
_REASONS = {
    401: "invalid or missing bearer token",
    429: "too many requests",
    502: "bad gateway",
    503: "unavailable",
}


def error_body(status: int, message: str | None = None) -> dict[str, Any]:
    return {"error": {"status": status, "message": message or _REASONS.get(status, "error")}}


def _error(status: int, message: str | None = None, **headers: str) -> JSONResponse:
    return JSONResponse(error_body(status, message), status_code=status, headers=headers or None)


class SeedRequest(BaseModel):
    count: int = Field(250, ge=0)
    seed: int = 1


class TouchRequest(BaseModel):
    numbers: list[str] = Field(default_factory=list)
    first: int = Field(0, ge=0, description="also touch the first n suppliers by number")
    rename: str = ""


class AddRequest(BaseModel):
    records: list[dict[str, Any]]


class VariantRequest(BaseModel):
    """The two unconfirmed properties of Acme's listing (see :mod:`sandbox.acme.store`)."""

    ordered: bool = True
    inclusive: bool = True


class _RateLimiter:
    """At most ``rate`` listing requests per second; the rest get 429 with Retry-After."""

    def __init__(self, rate: float | None) -> None:
        self.rate = rate
        self.lock = threading.Lock()
        self.window_start = time.monotonic()
        self.used = 0

    def wait_needed(self) -> float:
        """0 when the request may pass, else the seconds until the window reopens."""
        if not self.rate:
            return 0.0
        with self.lock:
            now = time.monotonic()
            if now - self.window_start >= 1.0:
                self.window_start, self.used = now, 0
            self.used += 1
            return 0.0 if self.used <= self.rate else max(0.01, 1.0 - (now - self.window_start))


def create_app(
    *,
    token: str = DEFAULT_TOKEN,
    paging: str = "page",
    ordered: bool = True,
    inclusive: bool = True,
    count: int = 250,
    seed: int = 1,
    rate_per_second: float | None = None,
    plan: dict[str, Any] | None = None,
) -> FastAPI:
    if paging not in PAGING_STYLES:
        raise ValueError(f"unknown paging style {paging!r} (known: {', '.join(PAGING_STYLES)})")
    app = FastAPI(title="Acme sandbox", docs_url=None, redoc_url=None, openapi_url=None)
    state = FaultState(lambda status: error_body(status), FaultPlan(**(plan or {})))
    store = AcmeStore(ordered=ordered, inclusive=inclusive, count=count, seed=seed)
    limiter = _RateLimiter(rate_per_second)
    app.state.faults, app.state.acme = state, store

    def size_of(raw: str | None) -> int:
        size = int(raw) if raw else DEFAULT_PAGE_SIZE
        size = max(1, min(size, MAX_PAGE_SIZE))
        cap = state.plan.page_size_cap
        return min(size, cap) if cap else size

    def mutate_randomly() -> None:
        """The plan's ``mutate_rate``: records updated while a client pages (caller holds the lock)."""
        rate = state.plan.mutate_rate
        if rate and store.suppliers and state.random() < rate:
            numbers = sorted(store.suppliers)
            victim = numbers[int(state.random() * len(numbers))]
            store.touch([victim], rename="")
            state.count("acme_mutated")

    def window(params: Any, name: str) -> datetime | None:
        raw = params.get(name)
        return parse_stamp(raw) if raw else None

    @app.get("/suppliers")
    def list_suppliers(request: Request) -> JSONResponse:
        if request.headers.get("authorization") != f"Bearer {token}":
            state.count("acme_auth_rejected")
            return _error(401)
        wait = limiter.wait_needed()
        if wait:
            state.count("acme_rate_limited")
            return _error(429, "slow down", **{"Retry-After": f"{wait:.2f}"})
        params = request.query_params
        headers: dict[str, str] = {}
        try:
            with store.lock:
                if paging == "keyset":
                    since, after = window(params, "updated_since"), params.get("after_number")
                    data = store.keyset(since, after, size_of(params.get("limit")))
                    body: dict[str, Any] = copy.deepcopy({"data": data})
                    store.after_list_request(data)
                else:
                    listing = store.listing(window(params, "updated_after"))
                    body = copy.deepcopy(page_of(listing, params, headers, str(request.base_url).rstrip("/")))
                    store.after_list_request(listing)
                mutate_randomly()
        except ValueError as exc:
            return _error(400, f"bad query: {exc}")
        state.count("acme_pages")
        return JSONResponse(body, headers=headers)

    def page_of(
        listing: list[dict[str, Any]], params: Any, headers: dict[str, str], base_url: str
    ) -> dict[str, Any]:
        quirks = store.quirks
        if paging in ("page", "link"):
            number = int(params.get("page") or 1)
            size = size_of(params.get("per_page"))
            start = (number - 1) * size
            data = [] if number in quirks.empty_pages else listing[start : start + size]
            more = start + size < len(listing)
            if paging == "link":
                if more:
                    query = request_query(params, page=str(number + 1))
                    headers["Link"] = f'<{base_url}/suppliers?{query}>; rel="next"'
                return {"data": data}
            return {"data": data, "next_page": number + 1 if more and not quirks.wrong_next_page else None}
        if paging == "offset":
            offset = int(params.get("offset") or 0)
            size = size_of(params.get("limit"))
            return {"data": listing[offset : offset + size], "total": len(listing) + quirks.total_offset}
        position = _decode(params.get("cursor")) if params.get("cursor") else 0
        size = size_of(params.get("limit"))
        data = listing[position : position + size]
        following = position + len(data)
        more = following < len(listing)
        if paging == "token":
            return {"data": data, "next_cursor": _encode(following) if more else None}
        query = request_query(params, cursor=_encode(following))
        return {"data": data, "next": f"/suppliers?{query}" if more else None}

    def request_query(params: Any, **changes: str) -> str:
        return urlencode({**dict(params), **changes})

    @app.post("/_sandbox/acme/seed")
    def reseed(body: SeedRequest) -> dict[str, int]:
        store.reseed(body.count, body.seed)
        return {"suppliers": len(store.suppliers)}

    @app.post("/_sandbox/acme/touch")
    def touch(body: TouchRequest) -> list[dict[str, Any]]:
        with store.lock:
            numbers = list(body.numbers) + sorted(store.suppliers)[: body.first]
            return store.touch(numbers, rename=body.rename)

    @app.post("/_sandbox/acme/add")
    def add(body: AddRequest) -> dict[str, int]:
        with store.lock:
            for record in body.records:
                store.suppliers[str(record["number"])] = dict(record)
            return {"suppliers": len(store.suppliers)}

    @app.put("/_sandbox/acme/variant")
    def set_variant(body: VariantRequest) -> dict[str, bool]:
        """Switch the variant of a running service (the proof suites rotate it between rounds)."""
        with store.lock:
            store.ordered, store.inclusive = body.ordered, body.inclusive
        return body.model_dump()

    @app.put("/_sandbox/acme/quirks")
    def set_quirks(body: Quirks) -> dict[str, Any]:
        with store.lock:
            store.quirks = body
            store.list_requests = 0
        return body.model_dump()

    @app.get("/_sandbox/acme/suppliers")
    def ground_truth() -> dict[str, Any]:
        with store.lock:
            return {
                "suppliers": sorted(store.suppliers.values(), key=lambda r: r["number"]),
                "list_requests": store.list_requests,
                "moves": store.moves,
                "server_time": datetime.now(UTC).isoformat(),
            }

    install_faults(app, state)
    return app


def _encode(position: int) -> str:
    return base64.urlsafe_b64encode(f"pos:{position}".encode()).decode().rstrip("=")


def _decode(token: str) -> int:
    padded = token + "=" * (-len(token) % 4)
    text = base64.urlsafe_b64decode(padded.encode()).decode()
    if not text.startswith("pos:"):
        raise ValueError("unknown cursor")
    return int(text[4:])
