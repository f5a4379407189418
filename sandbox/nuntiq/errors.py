"""Nuntiq-shaped errors: every non-2xx answer is ``{"message": ..., "status": ...}``.

Validation failures add ``field_errors`` (field path -> message). The same body
function feeds the fault injector, so injected errors look like real ones.
"""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException


class NuntiqError(Exception):
    def __init__(self, status: int, message: str, field_errors: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.field_errors = field_errors


def error_body(status: int, message: str | None = None) -> dict[str, Any]:
    try:
        phrase = HTTPStatus(status).phrase
    except ValueError:
        phrase = "Error"
    return {"message": message or phrase, "status": status}


def _response(status: int, message: str, field_errors: dict[str, str] | None = None) -> JSONResponse:
    body = error_body(status, message)
    if field_errors:
        body["field_errors"] = field_errors
    return JSONResponse(body, status_code=status)


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(NuntiqError)
    async def _nuntiq(_: Request, exc: NuntiqError) -> JSONResponse:
        return _response(exc.status, exc.message, exc.field_errors)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        return _response(exc.status_code, str(exc.detail))

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        field_errors: dict[str, str] = {}
        for err in exc.errors():
            loc = [str(p) for p in err.get("loc", ()) if p not in ("body", "query", "path")]
            field_errors[".".join(loc) or "body"] = str(err.get("msg", "invalid"))
        summary = "; ".join(f"{k}: {v}" for k, v in field_errors.items())
        return _response(400, f"invalid request: {summary}", field_errors)
