"""A local CloudBlue Connect API under ``/public/v1`` that the real ``ConnectClient`` runs against.

List endpoints answer JSON arrays with ``Content-Range: items a-b/total``, take
``limit``/``offset`` and RQL (filters, ``ordering(...)``, ``select(...)``) parsed and
applied with ``py_rql``; filters, lookups and orderings the spec does not declare for
the endpoint are refused with Connect's ``{"error_code", "errors"}`` body, as are
unknown ids (404) and a missing or wrong ``Authorization: ApiKey ...`` (401).

Fault plan knobs read here: ``page_size_cap`` (the server silently returns fewer
items than asked, as a proxy or a server-side maximum would) and ``mutate_rate``
(after each list page, that share of a page's worth of the collection's records get
a new ``updated`` time, so paging is tested against records moving under it).
Admin endpoints under ``/_sandbox/connect``: ``generate``, ``mutate``, ``dump``, ``truth``.
"""

from __future__ import annotations

import copy
import json
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from email.utils import formatdate
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field

from sandbox.admin import install_faults
from sandbox.connect.seed import (
    MEDIA_FOLDER,
    Generator,
    SeedData,
    StoredFile,
    generate,
    load_capabilities,
    ts,
)
from sandbox.connect.store import Collection, QueryError, parse_query_string
from sandbox.connect.variants import ConnectVariants
from sandbox.faults import FaultPlan, FaultState

PARTNERS_ENDPOINT = "/partners"

PREFIX = "/public/v1"
DEFAULT_API_KEY = "ApiKey SU-000-000-000:sandbox-connect-key"
MAX_LIMIT = 1000

#: collection name -> (URL path under /public/v1, spec endpoint, time field bumped by an update)
COLLECTIONS: dict[str, tuple[str, str, str]] = {
    "listings": ("listings", "/listings", "updated"),
    "requests": ("requests", "/requests", "updated"),
    "subscription_assets": ("subscriptions/assets", "/subscriptions/assets", "events.updated.at"),
    "subscription_requests": ("subscriptions/requests", "/subscriptions/requests", "events.updated.at"),
    "tier_accounts": ("tier/accounts", "/tier/accounts", "events.updated.at"),
    "billing_batches": ("billing/batches", "/billing/batches", "events.updated.at"),
}
MEDIA_ENDPOINT = "/media/folders/{folder_type}/{folder_name}/files"

_ERROR_CODES = {400: "VAL_001", 401: "AUTH_001", 403: "AUTH_002", 404: "NFND_000", 429: "LIM_001"}


def error_body(status: int, message: str | None = None) -> dict[str, Any]:
    """Connect's error shape."""
    code = _ERROR_CODES.get(status, "SYS_001" if status >= 500 else f"HTTP_{status}")
    return {"error_code": code, "errors": [message or f"Request failed with status {status}."]}


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse(error_body(status, message), status_code=status)


def _json(payload: Any, headers: dict[str, str] | None = None) -> Response:
    return Response(json.dumps(payload), media_type="application/json", headers=headers)


#: lists whose spec pagination names a maximum (``dp.MySQLandRQL1000Pagination``)
SPEC_MAX_LIMIT = {"requests"}


def headquarters_object(text: Any) -> dict[str, str] | None:
    """The ``object`` variant of a partner's headquarters, made from the free-text line."""
    parts = [p.strip() for p in str(text or "").split(",") if p.strip()]
    if not parts:
        return None
    address = {"address_line1": parts[0]}
    if len(parts) > 2:
        address["city"] = ", ".join(parts[1:-1])
        address["country"] = parts[-1].lower()
    elif len(parts) == 2:
        address["city"] = parts[1]
    return address


class ConnectEdge:
    """What sits in front of the handlers: the request-target limit and the Date header.

    A pure ASGI wrapper: a target longer than ``max_target_bytes`` gets 414, as from a
    front proxy; the longest target seen is kept for tests; the ``Date`` header is
    added only in the ``date_header`` variant (uvicorn is told not to add its own).
    """

    def __init__(self, app: FastAPI, store: ConnectData) -> None:
        self.app = app
        self.store = store
        #: the wrapped app's state, where ``sandbox.server`` looks for ``sends_own_date``
        self.state = app.state

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        target = len(scope.get("raw_path") or b"") + len(scope.get("query_string") or b"") + 1
        variants = self.store.variants
        with self.store.lock:
            self.store.longest_target = max(self.store.longest_target, target)
        dated = variants.server_time == "date_header"

        async def send_dated(message: Any) -> None:
            if message["type"] == "http.response.start" and dated:
                headers = list(message.get("headers", []))
                headers.append((b"date", formatdate(usegmt=True).encode()))
                message = dict(message, headers=headers)
            await send(message)

        if target > variants.max_target_bytes:
            body = json.dumps(error_body(414, f"Request-URI Too Long ({target} bytes)")).encode()
            await send_dated(
                {
                    "type": "http.response.start",
                    "status": 414,
                    "headers": [
                        (b"content-type", b"application/json"),
                        (b"content-length", str(len(body)).encode()),
                    ],
                }
            )
            await send({"type": "http.response.body", "body": body})
            return
        await self.app(scope, receive, send_dated)


def _set_path(obj: dict[str, Any], dotted: str, value: Any) -> None:
    parts = dotted.split(".")
    for part in parts[:-1]:
        obj = obj.setdefault(part, {})
    obj[parts[-1]] = value


def _without(items: list[Any], drops: list[str]) -> list[Any]:
    """Copies of ``items`` without the ``drops`` paths (top-level ones without a deep copy)."""
    top = {path for path in drops if "." not in path}
    nested = [path for path in drops if "." in path]
    result = [{k: v for k, v in item.items() if k not in top} for item in items]
    if nested:
        result = [copy.deepcopy(item) for item in result]
        for item in result:
            for path in nested:
                _drop_path(item, path)
    return result


def _drop_path(obj: Any, dotted: str) -> None:
    parts = dotted.split(".")
    for part in parts[:-1]:
        if not isinstance(obj, dict):
            return
        obj = obj.get(part)
    if isinstance(obj, dict):
        obj.pop(parts[-1], None)


class ConnectData:
    """The service's state; every access holds ``lock`` (handlers run in a thread pool)."""

    def __init__(self, seed: int, counts: dict[str, int] | None) -> None:
        self.lock = threading.RLock()
        self.capabilities = load_capabilities()
        self.load(seed, counts)

    def load(self, seed: int, counts: dict[str, int] | None) -> None:
        self.variants = getattr(self, "variants", ConnectVariants())
        self.longest_target = 0
        self.answered_pages = 0
        data, gen = generate(seed, counts)
        self.seed = seed
        self.gen: Generator = gen
        self.data: SeedData = data
        self.partners = data.partners
        # The same partner records, queryable as the /partners list endpoint (RQL, paging).
        self.partner_list = Collection("partners", self.capabilities[PARTNERS_ENDPOINT])
        self.partner_list.put_many(data.partners.values())
        self.collections: dict[str, Collection] = {}
        for name, (_, endpoint, _) in COLLECTIONS.items():
            coll = Collection(name, self.capabilities[endpoint])
            coll.put_many(data.collections.get(name, []))
            self.collections[name] = coll
        self.batch_files = data.batch_files
        self.media: dict[tuple[str, str], Collection] = {}
        self.media_content: dict[tuple[str, str, str], StoredFile] = {}
        for folder, files in data.media.items():
            self._add_media(folder, files)
        self._last_now = datetime.now(UTC)

    def _add_media(self, folder: tuple[str, str], files: list[StoredFile]) -> None:
        coll = self.media.get(folder)
        if coll is None:
            coll = self.media[folder] = Collection("media files", self.capabilities[MEDIA_ENDPOINT])
        for stored in files:
            coll.put(stored.record)
            self.media_content[(folder[0], folder[1], stored.record["id"])] = stored

    def now(self) -> datetime:
        """Server time, strictly increasing so every update gets a distinct stamp."""
        current = datetime.now(UTC)
        if current <= self._last_now:
            current = self._last_now + timedelta(microseconds=1)
        self._last_now = current
        return current

    def touch(self, name: str, key: str) -> None:
        coll = self.collections[name]
        record = copy.deepcopy(coll.records[key])
        _set_path(record, COLLECTIONS[name][2], ts(self.now(), micro=True))
        coll.put(record)

    def touch_random(self, name: str, count: int, draw: Callable[[], float]) -> list[str]:
        keys = list(self.collections[name].records)
        touched: list[str] = []
        for _ in range(min(count, len(keys))):
            key = keys[int(draw() * len(keys)) % len(keys)]
            self.touch(name, key)
            touched.append(key)
        return touched

    def add(self, name: str, count: int) -> list[str]:
        makers: dict[str, Callable[[datetime], dict[str, Any]]] = {
            "listings": lambda at: self.gen.listing(at),
            "requests": lambda at: self.gen.request(at),
            "subscription_assets": lambda at: self.gen.asset(at),
            "subscription_requests": lambda at: self.gen.subscription_request(at),
            "tier_accounts": lambda at: self.gen.tier_account(at),
        }
        added: list[str] = []
        for _ in range(count):
            at = self.now()
            if name == "billing_batches":
                batch, files = self.gen.billing_batch(at)
                self.collections[name].put(batch)
                self.batch_files[batch["id"]] = [
                    {"id": f.record["id"], "name": f.record["name"], "type": "output", "position": i + 1}
                    for i, f in enumerate(files)
                ]
                self._add_media(("streams_batches", batch["id"]), files)
                added.append(batch["id"])
            elif name == "media_files":
                stored = self.gen.media_file(*MEDIA_FOLDER, at=at)
                self._add_media(MEDIA_FOLDER, [stored])
                added.append(stored.record["id"])
            else:
                record = makers[name](at)
                self.collections[name].put(record)
                added.append(record["id"])
        return added

    def truth(self) -> dict[str, Any]:
        listings = self.collections["listings"].records.values()
        vendor_ids = sorted({r["vendor"]["id"] for r in listings})
        files = []
        for batch_id, entries in self.batch_files.items():
            for entry in entries:
                stored = self.media_content[("streams_batches", batch_id, entry["id"])]
                files.append(
                    {
                        "key": f"{batch_id}/{entry['id']}",
                        "name": entry["name"],
                        "size": len(stored.content),
                        "sha256": stored.sha256,
                    }
                )
        return {
            "counts": {name: len(c.records) for name, c in self.collections.items()},
            "vendor_ids": vendor_ids,
            "partners": self.partners,
            "billing_files": sorted(files, key=lambda f: f["key"]),
            "media_files": [
                {"key": k[2], "folder": f"{k[0]}/{k[1]}", "sha256": v.sha256, "size": len(v.content)}
                for k, v in sorted(self.media_content.items())
                if k[0] != "streams_batches"
            ],
        }


class GenerateRequest(BaseModel):
    """``{"seed": 1, "counts": {"listings": 5000}}``; top-level counts (``{"listings": 5000}``) work too."""

    model_config = ConfigDict(extra="allow")

    seed: int = 1
    counts: dict[str, int] = Field(default_factory=dict)

    def all_counts(self) -> dict[str, int]:
        counts = {k: int(v) for k, v in (self.model_extra or {}).items()}
        counts.update(self.counts)
        return counts


class PoisonRequest(BaseModel):
    """Make downloads of a billing batch's files fail with ``status`` until cleared."""

    batch: str
    files: str = Field("first", pattern="^(first|all)$")
    status: int = Field(422, ge=400, le=499)


class TieRequest(BaseModel):
    collection: str = "listings"
    count: int = Field(..., ge=1)
    same_created: bool = True


class MutateRequest(BaseModel):
    collection: str = "listings"
    fraction: float = Field(0.0, ge=0, le=1)
    add: int = Field(0, ge=0)
    ids: list[str] = Field(default_factory=list)


def create_app(
    *,
    api_key: str = DEFAULT_API_KEY,
    seed: int = 1,
    counts: dict[str, int] | None = None,
    plan: dict[str, Any] | None = None,
    variants: dict[str, Any] | None = None,
) -> Any:
    """The Connect sandbox; ``api_key`` is the full Authorization value it accepts.

    ``variants`` picks an answer to each unconfirmed property
    (:class:`~sandbox.connect.variants.ConnectVariants`); ``PUT /_sandbox/connect/variants``
    changes them at run time.
    """
    app = FastAPI(title="Connect sandbox", docs_url=None, redoc_url=None, openapi_url=None)
    state = FaultState(lambda status: error_body(status), FaultPlan(**(plan or {})))
    app.state.faults = state
    store = ConnectData(seed, counts)
    store.variants = ConnectVariants(**(variants or {}))
    app.state.connect = store
    #: (folder type, folder name, file id) -> status its download answers with
    poisoned: dict[tuple[str, str, str], int] = {}

    def authorized(request: Request) -> JSONResponse | None:
        if request.headers.get("authorization") != api_key:
            state.count("connect_auth_rejected")
            return _error(401, "Unauthorized: the API key is missing or not valid.")
        return None

    def page_limit(requested: int | None, collection: str = "") -> int:
        """The page size served, after the variants' refusals and caps (QueryError = 400)."""
        variants = store.variants
        limit = 100 if requested is None else requested
        if limit == 0 and variants.server_time == "limit_zero_refused":
            raise QueryError("limit must be a positive integer")
        if collection not in SPEC_MAX_LIMIT:
            if variants.max_limit == "refuse_over_100" and limit > 100:
                raise QueryError(f"limit {limit} is too large: at most 100 items per page")
            if variants.max_limit == "clamp_250":
                limit = min(limit, 250)
        limit = min(limit, MAX_LIMIT)
        for cap in (state.plan.page_size_cap, variants.page_cap):
            if cap:
                limit = min(limit, cap)
        return limit

    def list_response(
        coll: Collection, request: Request, mutate: str | None, shape: Callable[[Any], Any] | None = None
    ) -> Response:
        try:
            parsed = parse_query_string(request.url.query)
            limit = page_limit(parsed.limit, mutate or coll.name)
            with store.lock:
                items, total = coll.query(parsed, limit=limit)
                if parsed.select and store.variants.select == "refused":
                    return _error(400, f"select() is not supported on {coll.name}")
                if parsed.select and store.variants.select == "honoured":
                    items = _without(items, [s[1:] for s in parsed.select if s.startswith("-")])
                body = json.dumps([shape(i) for i in items] if shape is not None else items)
                rate = state.plan.mutate_rate
                if mutate and rate and items:
                    share = rate * len(items)
                    count = int(share) + (1 if state.random() < share - int(share) else 0)
                    touched = store.touch_random(mutate, count, state.random)
                    state.count("connect_mutated", len(touched))
        except QueryError as exc:
            return _error(400, str(exc))
        state.count("connect_pages")
        return paged(items, body, parsed.offset, total)

    def paged(items: list[Any], body: str, first: int, total: int) -> Response:
        """A list answer with its ``Content-Range``, after the variants' lies."""
        variants = store.variants
        if items and variants.empty_page_every:
            with store.lock:
                store.answered_pages += 1
                blank = store.answered_pages % variants.empty_page_every == 0
            if blank:
                state.count("connect_blank_pages")
                items, body = [], "[]"
        total = int(total * variants.total_factor)
        if items:
            content_range = f"items {first}-{first + len(items) - 1}/{total}"
        else:
            content_range = f"items {first}-{first}/{total}" if total else "items 0-0/0"
        return Response(body, media_type="application/json", headers={"Content-Range": content_range})

    def register(name: str, path: str) -> None:
        @app.get(f"{PREFIX}/{path}", name=f"list_{name}")
        def list_items(request: Request) -> Response:
            denied = authorized(request)
            if denied is not None:
                return denied
            return list_response(store.collections[name], request, name)

        @app.get(f"{PREFIX}/{path}/{{item_id}}", name=f"get_{name}")
        def get_item(item_id: str, request: Request) -> Response:
            denied = authorized(request)
            if denied is not None:
                return denied
            with store.lock:
                record = store.collections[name].records.get(item_id)
            if record is None:
                return _error(404, f"Object {item_id} not found.")
            return _json(record)

    for name, (path, _, _) in COLLECTIONS.items():
        register(name, path)

    @app.get(f"{PREFIX}/billing/batches/{{batch_id}}/files")
    def batch_files(batch_id: str, request: Request) -> Response:
        denied = authorized(request)
        if denied is not None:
            return denied
        try:
            parsed = parse_query_string(request.url.query)
        except QueryError as exc:
            return _error(400, str(exc))
        with store.lock:
            entries = store.batch_files.get(batch_id)
        if entries is None:
            return _error(404, f"Batch {batch_id} not found.")
        try:
            limit = page_limit(parsed.limit, "batch_files")
        except QueryError as exc:
            return _error(400, str(exc))
        page = entries[parsed.offset : parsed.offset + limit]
        if store.variants.billing_download == "payload_url":
            page = [
                dict(e, file=f"{PREFIX}/billing/batches/{batch_id}/files/{e['id']}/download") for e in page
            ]
        return paged(page, json.dumps(page), parsed.offset, len(entries))

    @app.get(f"{PREFIX}/partners")
    def list_partners(request: Request) -> Response:
        denied = authorized(request)
        if denied is not None:
            return denied
        state.count("connect_partner_lists")
        return list_response(store.partner_list, request, None, shape_partner)

    @app.get(f"{PREFIX}/partners/{{partner_id}}")
    def partner(partner_id: str, request: Request) -> Response:
        denied = authorized(request)
        if denied is not None:
            return denied
        record = store.partners.get(partner_id)
        if record is None:
            return _error(404, f"Partner {partner_id} not found.")
        return _json(shape_partner(record))

    def shape_partner(record: Any) -> Any:
        if store.variants.headquarters != "object" or not isinstance(record, dict):
            return record
        return dict(record, headquarters=headquarters_object(record.get("headquarters")))

    @app.get(f"{PREFIX}/billing/batches/{{batch_id}}/files/{{file_id}}/download")
    def batch_file_download(batch_id: str, file_id: str, request: Request) -> Response:
        """Where the ``payload_url`` variant's file entries point."""
        denied = authorized(request)
        if denied is not None:
            return denied
        stored = store.media_content.get(("streams_batches", batch_id, file_id))
        if stored is None or store.variants.billing_download != "payload_url":
            return _error(404, f"File {file_id} not found.")
        return file_response(stored, ("streams_batches", batch_id, file_id))

    def file_response(stored: StoredFile, key: tuple[str, str, str]) -> Response:
        refused = poisoned.get(key)
        if refused is not None:
            state.count("connect_poisoned_downloads")
            return _error(refused, f"File {key[2]} cannot be served: its content failed validation.")
        state.count("connect_downloads")
        return Response(
            stored.content,
            media_type=stored.record["mime_type"],
            headers={"Content-Disposition": f'attachment; filename="{stored.record["name"]}"'},
        )

    @app.get(f"{PREFIX}/media/folders/{{rest:path}}")
    def media(rest: str, request: Request) -> Response:
        denied = authorized(request)
        if denied is not None:
            return denied
        parts = rest.split("/")
        if "files" not in parts[2:]:
            return _error(404, f"Folder path {rest} not found.")
        at = len(parts) - 1 - parts[::-1].index("files")
        folder = (parts[0], "/".join(parts[1:at]))
        tail = parts[at + 1 :]
        with store.lock:
            coll = store.media.get(folder)
        if coll is None:
            return _error(404, f"Folder {folder[0]}/{folder[1]} not found.")
        if not tail:
            return list_response(coll, request, None)
        stored = store.media_content.get((folder[0], folder[1], tail[0]))
        if stored is None or (len(tail) > 1 and tail[1] != stored.record["name"]) or len(tail) > 2:
            return _error(404, f"File {'/'.join(tail)} not found.")
        if len(tail) == 1:
            return _json(stored.record)
        if folder[0] == "streams_batches" and store.variants.billing_download == "payload_url":
            return _error(404, f"File {'/'.join(tail)} not found.")
        return file_response(stored, (folder[0], folder[1], tail[0]))

    admin = "/_sandbox/connect"

    @app.post(f"{admin}/generate")
    def admin_generate(body: GenerateRequest) -> dict[str, Any]:
        with store.lock:
            store.load(body.seed, body.all_counts())
            return {"seed": body.seed, "counts": {n: len(c.records) for n, c in store.collections.items()}}

    @app.post(f"{admin}/mutate")
    def admin_mutate(body: MutateRequest) -> JSONResponse:
        if body.collection not in store.collections and body.collection != "media_files":
            return _error(400, f"unknown collection {body.collection!r}")
        with store.lock:
            updated: list[str] = []
            if body.collection in store.collections:
                for key in body.ids:
                    if key in store.collections[body.collection].records:
                        store.touch(body.collection, key)
                        updated.append(key)
                count = round(body.fraction * len(store.collections[body.collection].records))
                updated += store.touch_random(body.collection, count, state.random)
            added = store.add(body.collection, body.add)
        return JSONResponse({"updated": updated, "added": added})

    @app.put(f"{admin}/poison")
    def admin_poison(body: PoisonRequest) -> JSONResponse:
        """Bad-input and soak checks: a file whose download is always refused as a bad request."""
        with store.lock:
            entries = store.batch_files.get(body.batch)
            if not entries:
                return _error(404, f"batch {body.batch!r} has no files")
            chosen = entries[:1] if body.files == "first" else entries
            ids = [str(entry["id"]) for entry in chosen]
            for file_id in ids:
                poisoned[("streams_batches", body.batch, file_id)] = body.status
        return JSONResponse({"poisoned": [f"{body.batch}/{i}" for i in ids]})

    @app.delete(f"{admin}/poison")
    def admin_unpoison() -> JSONResponse:
        count = len(poisoned)
        poisoned.clear()
        return JSONResponse({"cleared": count})

    @app.put(f"{admin}/raw/{{collection}}")
    def admin_raw(collection: str, record: dict[str, Any]) -> JSONResponse:
        """Store ``record`` exactly as given: bad-input checks plant malformed records this way."""
        coll = store.collections.get(collection)
        if coll is None:
            return _error(404, f"unknown collection {collection!r}")
        if not isinstance(record.get("id"), str) or not record["id"]:
            return _error(400, "a raw record needs a string 'id'")
        with store.lock:
            coll.put(copy.deepcopy(record))
        return JSONResponse({"stored": record["id"]})

    @app.get(f"{admin}/dump/{{collection}}")
    def admin_dump(collection: str) -> Response:
        with store.lock:
            coll = store.collections.get(collection)
            if coll is None:
                return _error(404, f"unknown collection {collection!r}")
            return _json(list(coll.records.values()))

    @app.get(f"{admin}/truth")
    def admin_truth() -> Response:
        with store.lock:
            return _json(store.truth())

    @app.post(f"{admin}/tie")
    def admin_tie(body: TieRequest) -> JSONResponse:
        """Stamp ``count`` records with one ``updated`` value (and ``created`` too, as a
        bulk import would), the way a bulk operation does; answers the value used."""
        coll = store.collections.get(body.collection)
        if coll is None or body.collection not in ("listings", "requests"):
            return _error(400, f"ties are made on listings or requests, not {body.collection!r}")
        with store.lock:
            at = ts(store.now(), micro=True)
            keys = sorted(coll.records)[: body.count]
            for key in keys:
                record = dict(coll.records[key], updated=at)
                if body.same_created:
                    record["created"] = at
                coll.put(record)
        return JSONResponse({"at": at, "count": len(keys)})

    @app.put(f"{admin}/variants")
    def admin_variants(body: dict[str, Any]) -> JSONResponse:
        try:
            chosen = ConnectVariants(**body)
        except ValueError as exc:
            return _error(400, str(exc))
        with store.lock:
            store.variants = chosen
        return JSONResponse(chosen.model_dump())

    @app.get(f"{admin}/variants")
    def admin_variants_show() -> JSONResponse:
        return JSONResponse(dict(store.variants.model_dump(), longest_target=store.longest_target))

    install_faults(app, state)
    app.state.sends_own_date = True
    return ConnectEdge(app, store)
