"""A local Codat Files API: list, download (zip per date) and upload, with Codat's error bodies.

Close enough to the real API that the ``codat-files`` SDK runs against it unmodified:
``Authorization: Basic <base64 key>``, a plain JSON array from the list endpoint,
``application/octet-stream`` zips from the download endpoint, multipart uploads with
parts named ``file`` (at most 20 per request, 10 MB each, Codat's allowed types, else
400 with a ``validation`` body), 402 in quota mode, 404 for unknown companies and
connections. Admin endpoints under ``/_sandbox/codat`` seed data, add files, plant
malicious archives, switch quota mode, lose upload answers and return what was uploaded
(ground truth). What Codat has not confirmed (archive layout, duplicate numbering, what
``?date=`` selects, the empty-day answer, the error body shape, rate-limit headers) follows
the store's :class:`~sandbox.codat.variants.CodatVariant`, set at start-up
(``variant=``), with the seed, or through ``PUT /_sandbox/codat/variant``. An enforced
request quota and the ``X-Rate-Limit-Reset`` format are set with
``PUT /_sandbox/codat/rate-limit`` (:mod:`sandbox.codat.ratelimit`).
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import threading
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException as StarletteHTTPException

from sandbox.admin import install_faults
from sandbox.codat.archives import MALICIOUS_KINDS, build_archive, build_malicious
from sandbox.codat.ratelimit import RateLimit, RateWindow
from sandbox.codat.seed import Company, StoredFile, generate, load_seed
from sandbox.codat.variants import CodatVariant
from sandbox.faults import FaultPlan, FaultState

ALLOWED = {"pdf", "xls", "xlsx", "xlsb", "csv", "doc", "docx", "ppt", "pptx", "jpeg", "jpg", "png"}
MAX_FILE_BYTES = 10 * 1024 * 1024
MAX_FILES = 20

_REASONS = {
    400: "Bad Request",
    401: "Unauthorized",
    402: "Payment Required",
    403: "Forbidden",
    404: "Not Found",
    429: "You have made too many requests in a given amount of time; please retry later.",
    500: "An internal error occurred.",
    502: "Bad Gateway",
    503: "The service is temporarily unavailable.",
}


#: the spec's own examples label some errors with another statusCode (copy-paste slips)
_MISLABELLED = {402: 429, 503: 500, 404: 400, 401: 403}


def error_body(
    status: int, message: str | None = None, validation: list[str] | None = None, *, shape: str = "spec"
) -> dict[str, Any]:
    """Codat's ``ErrorMessage``, in one of the shapes the docs show (see :mod:`sandbox.codat.variants`)."""
    text = message or _REASONS.get(status, "Error")
    if shape == "docs":
        # the docs' 402 example: no canBeRetried / detailedErrorCode, messages under validation
        return {
            "statusCode": status,
            "service": "PublicApi",
            "error": text,
            "correlationId": "00000000-0000-0000-0000-000000000000",
            "validation": {"errors": [{"message": m} for m in (validation or [text])], "warnings": []},
        }
    body: dict[str, Any] = {
        "statusCode": _MISLABELLED.get(status, status) if shape == "mislabelled" else status,
        "service": "PublicApi",
        "error": text,
        "correlationId": secrets.token_hex(16),
        "canBeRetried": "Unknown",
        "detailedErrorCode": 0,
    }
    if validation is not None:
        body["validation"] = {
            "errors": [{"itemId": None, "message": m, "validatorName": "FileUpload"} for m in validation],
            "warnings": [],
        }
    return body


class SeedRequest(BaseModel):
    overrides: dict[str, Any] = Field(default_factory=dict)
    variant: dict[str, str] = Field(default_factory=dict)


class AddFile(BaseModel):
    fileName: str
    uploaded: str
    sourceType: str | None = "Other"
    displayName: str | None = None
    content_b64: str | None = None
    size: int | None = None


class MaliciousRequest(BaseModel):
    date: str
    kind: str


class QuotaRequest(BaseModel):
    exceeded: bool = True


class CodatStore:
    """All sandbox state, behind one lock (the app may serve requests from several threads)."""

    def __init__(self, config: dict[str, Any], zone: str, variant: CodatVariant) -> None:
        self.lock = threading.Lock()
        self.zone = ZoneInfo(zone)
        self.reseed(config, variant)

    def reseed(self, config: dict[str, Any], variant: CodatVariant | None = None) -> None:
        with self.lock:
            self.variant = variant or CodatVariant()
            self.config = config
            self.api_key: str = config.get("api_key", "sandbox-codat-api-key")
            self.companies: dict[str, Company] = generate(config)
            self.malicious: dict[tuple[str, str], str] = {}
            self.uploads: list[dict[str, Any]] = []
            self.upload_requests = 0
            self.quota_exceeded = False
            self.rates = RateWindow()
            self.lose_upload_answers = 0

    def moment(self, raw: str) -> datetime:
        moment = datetime.fromisoformat(raw.replace("Z", "+00:00"))
        return moment.replace(tzinfo=self.zone) if moment.tzinfo is None else moment

    def epoch(self, raw: str) -> float:
        return self.moment(raw).timestamp()

    def selected_date(self, raw: str) -> str:
        """The date ``?date=`` files this upload under, as the variant's ``date_rule`` says."""
        rule = self.variant.date_rule
        if rule == "raw":
            return raw[:10]
        zone = UTC if rule == "utc" else self.zone
        return self.moment(raw).astimezone(zone).date().isoformat()

    def error(
        self, status: int, message: str | None = None, validation: list[str] | None = None, **headers: str
    ) -> JSONResponse:
        body = error_body(status, message, validation, shape=self.variant.error_body)
        return JSONResponse(body, status_code=status, headers=headers or None)


def create_app(
    *,
    seed_overrides: dict[str, Any] | None = None,
    api_key: str | None = None,
    local_timezone: str = "UTC",
    plan: dict[str, Any] | None = None,
    variant: dict[str, str] | None = None,
) -> FastAPI:
    config = load_seed(seed_overrides)
    if api_key is not None:
        config["api_key"] = api_key
    store = CodatStore(config, local_timezone, CodatVariant.from_mapping(variant))
    _error = store.error
    app = FastAPI(title="Codat Files sandbox", openapi_url=None, docs_url=None, redoc_url=None)
    app.state.store = store
    state = FaultState(
        lambda status: error_body(status, shape=store.variant.error_body), FaultPlan(**(plan or {}))
    )
    app.state.faults = state

    def guard(request: Request, company_id: str, connection_id: str | None = None) -> JSONResponse | Company:
        expected = "Basic " + base64.b64encode(store.api_key.encode()).decode()
        if not secrets.compare_digest(request.headers.get("authorization", ""), expected):
            return _error(401)
        if store.quota_exceeded:
            return _error(
                402,
                "Payment Required",
                ["Account expired. Learn more at https://docs.codat.io/using-the-api/errors"],
            )
        company = store.companies.get(company_id)
        if company is None:
            return _error(404, f"No company was found with ID {company_id}")
        if connection_id is not None and connection_id not in company.connections:
            return _error(404, f"No connection was found with ID {connection_id} for company {company_id}")
        return company

    @app.get("/companies/{company_id}/files")
    def list_files(company_id: str, request: Request) -> Any:
        company = guard(request, company_id)
        if isinstance(company, JSONResponse):
            return company
        with store.lock:
            return [f.to_api() for f in company.files]

    @app.get("/companies/{company_id}/files/download")
    def download(company_id: str, request: Request, date: str | None = None) -> Any:
        company = guard(request, company_id)
        if isinstance(company, JSONResponse):
            return company
        day = date[:10] if date else None
        if day is not None and (len(day) != 10 or day[4] != "-" or day[7] != "-"):
            return _error(400, f"Invalid date '{date}'", [f"'{date}' is not a valid date"])
        with store.lock:
            chosen = [
                (i, f, store.epoch(f.uploaded), store.selected_date(f.uploaded))
                for i, f in enumerate(company.files)
                if day is None or store.selected_date(f.uploaded) == day
            ]
            kind = store.malicious.get((company_id, day or ""))
            variant = store.variant
        state.count("codat_downloads")
        if kind:
            return Response(build_malicious(kind, chosen, variant), media_type="application/octet-stream")
        if not chosen and day is not None and variant.empty_day == "404":
            return _error(404, f"No files were uploaded on {day}")
        if not chosen and day is not None and variant.empty_day == "204":
            return Response(status_code=204)
        return Response(build_archive(chosen, variant), media_type="application/octet-stream")

    @app.post("/companies/{company_id}/connections/{connection_id}/files")
    async def upload(company_id: str, connection_id: str, request: Request) -> Any:
        company = guard(request, company_id, connection_id)
        if isinstance(company, JSONResponse):
            return company
        form = await request.form(max_files=1000)
        try:
            parts = [v for k, v in form.multi_items() if k == "file" and isinstance(v, UploadFile)]
            other = sorted({k for k, v in form.multi_items() if isinstance(v, UploadFile) and k != "file"})
            problems: list[str] = []
            if not parts:
                hint = f" (received parts named {', '.join(other)})" if other else ""
                problems.append(f"No file was provided: expected multipart parts named 'file'{hint}")
            if len(parts) > MAX_FILES:
                problems.append(
                    f"At most {MAX_FILES} files may be uploaded per request; received {len(parts)}"
                )
            loaded: list[tuple[str, bytes, str | None]] = []
            for part in parts:
                data = await part.read()
                name = part.filename or ""
                ext = name.rsplit(".", 1)[-1].lower() if "." in name else ""
                if ext not in ALLOWED:
                    problems.append(f"File '{name}' has a type that is not supported")
                if len(data) > MAX_FILE_BYTES:
                    problems.append(f"File '{name}' is larger than 10 MB")
                loaded.append((name, data, part.content_type))
        finally:
            await form.close()
        if problems:
            return _error(400, "Bad Request", problems)
        now = datetime.now(UTC)
        with store.lock:
            store.upload_requests += 1
            request_no = store.upload_requests
            for name, data, media in loaded:
                uploaded = now.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
                company.files.append(StoredFile(name, None, "Other", uploaded, data))
                store.uploads.append(
                    {
                        "company_id": company_id,
                        "connection_id": connection_id,
                        "file_name": name,
                        "size": len(data),
                        "sha256": hashlib.sha256(data).hexdigest(),
                        "media_type": media,
                        "uploaded": uploaded,
                        "request": request_no,
                    }
                )
            lose = store.lose_upload_answers > 0
            if lose:
                store.lose_upload_answers -= 1
        if lose:
            # stored, but the answer never reaches the client (a gateway gave up waiting)
            return _error(502)
        return Response(status_code=200)

    # -- admin ----------------------------------------------------------------------------

    prefix = "/_sandbox/codat"

    @app.post(f"{prefix}/seed")
    def reseed(body: SeedRequest) -> Any:
        try:
            variant = CodatVariant.from_mapping(body.variant)
        except ValueError as exc:
            return _error(400, str(exc))
        store.reseed(load_seed(body.overrides), variant)
        return {"companies": {cid: len(c.files) for cid, c in store.companies.items()}}

    @app.put(f"{prefix}/variant")
    def set_variant(body: dict[str, str]) -> Any:
        """Switch the unconfirmed behaviours (:mod:`sandbox.codat.variants`) without reseeding."""
        try:
            variant = CodatVariant.from_mapping(body)
        except ValueError as exc:
            return _error(400, str(exc))
        with store.lock:
            store.variant = variant
        return variant.as_dict()

    @app.get(f"{prefix}/variant")
    def get_variant() -> dict[str, str]:
        return store.variant.as_dict()

    @app.get(f"{prefix}/companies/{{company_id}}/files")
    def all_files(company_id: str) -> Any:
        with store.lock:
            company = store.companies.get(company_id)
            if company is None:
                return _error(404, f"No company was found with ID {company_id}")
            return [{**f.to_api(), "sha256": f.sha256, "size": len(f.content)} for f in company.files]

    @app.post(f"{prefix}/companies/{{company_id}}/files")
    def add_file(company_id: str, body: AddFile) -> Any:
        content = base64.b64decode(body.content_b64) if body.content_b64 else b"x" * (body.size or 64)
        with store.lock:
            company = store.companies.setdefault(company_id, Company(company_id, []))
            company.files.append(
                StoredFile(body.fileName, body.displayName, body.sourceType, body.uploaded, content)
            )
            return {"files": len(company.files)}

    @app.delete(f"{prefix}/companies/{{company_id}}/files")
    def delete_files(company_id: str, fileName: str, uploaded: str | None = None) -> Any:
        """Remove a file (bad-input checks take a planted file away again before a rerun)."""
        with store.lock:
            company = store.companies.get(company_id)
            if company is None:
                return _error(404, f"No company was found with ID {company_id}")
            keep = [
                f
                for f in company.files
                if not (f.file_name == fileName and (uploaded is None or f.uploaded == uploaded))
            ]
            deleted = len(company.files) - len(keep)
            company.files[:] = keep
            return {"deleted": deleted}

    @app.post(f"{prefix}/companies/{{company_id}}/malicious")
    def plant(company_id: str, body: MaliciousRequest) -> Any:
        if body.kind not in MALICIOUS_KINDS:
            return _error(400, f"kind must be one of {', '.join(MALICIOUS_KINDS)}")
        with store.lock:
            store.malicious[(company_id, body.date[:10])] = body.kind
        return {"planted": body.kind, "date": body.date[:10]}

    @app.delete(f"{prefix}/malicious")
    def clear_malicious() -> dict[str, int]:
        with store.lock:
            count = len(store.malicious)
            store.malicious.clear()
        return {"cleared": count}

    @app.put(f"{prefix}/lose-upload-answers")
    def lose_answers(body: dict[str, int]) -> dict[str, int]:
        """The next ``count`` uploads are stored and then answered 502, as if the answer was lost."""
        with store.lock:
            store.lose_upload_answers = int(body.get("count", 1))
        return {"count": store.lose_upload_answers}

    @app.put(f"{prefix}/quota")
    def quota(body: QuotaRequest) -> dict[str, bool]:
        with store.lock:
            store.quota_exceeded = body.exceeded
        return {"exceeded": store.quota_exceeded}

    @app.get(f"{prefix}/uploads")
    def uploads() -> dict[str, Any]:
        with store.lock:
            return {"requests": store.upload_requests, "files": list(store.uploads)}

    @app.post(f"{prefix}/companies/{{company_id}}/connections/{{connection_id}}")
    def add_connection(company_id: str, connection_id: str) -> dict[str, Any]:
        with store.lock:
            company = store.companies.setdefault(company_id, Company(company_id, []))
            if connection_id not in company.connections:
                company.connections.append(connection_id)
            return {"connections": company.connections}

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        # unknown routes and methods answer in Codat's error shape too
        return _error(exc.status_code, str(exc.detail))

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        messages = [f"{'.'.join(str(p) for p in e.get('loc', ()))}: {e.get('msg')}" for e in exc.errors()]
        return _error(400, "Bad Request", messages)

    @app.middleware("http")
    async def rate_limits(request: Request, call_next: Any) -> Any:
        if request.url.path.startswith("/_sandbox"):
            return await call_next(request)
        refused, headers = store.rates.count()
        response = _error(429) if refused else await call_next(request)
        if store.variant.rate_headers == "x_rate_limit":
            response.headers.update({k: v for k, v in headers.items() if k != "Retry-After"})
        if "Retry-After" in headers:
            response.headers["Retry-After"] = headers["Retry-After"]
        return response

    @app.get("/_sandbox/codat/rate-limit")
    def get_rate_limit() -> dict[str, Any]:
        return store.rates.limit.model_dump()

    @app.put("/_sandbox/codat/rate-limit")
    def put_rate_limit(body: RateLimit) -> dict[str, Any]:
        store.rates.configure(body)
        return body.model_dump()

    install_faults(app, state)
    return app
