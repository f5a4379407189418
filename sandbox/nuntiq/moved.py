"""The ``paths`` variant: custom-data tables served at another path than the one assumed.

Under ``paths="custom_data_tables"`` the tables live at
``/v1/custom-data/tables/{table}/rows`` (rows by key below it) and the documented
``/v1/custom-data/{table}`` answers ``404``, so the suite can check that every connector
fails at once with an error naming the path it assumed.
"""

from __future__ import annotations

import re
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from sandbox.nuntiq.errors import error_body
from sandbox.nuntiq.variants import Variants

_MOVED = re.compile(r"/v1/custom-data/tables/([^/]+)/rows(/.*)?")


def install_moved_paths(app: FastAPI) -> None:
    @app.middleware("http")
    async def moved_paths(request: Request, call_next: Any) -> Any:
        variants: Variants = request.app.state.variants
        path = request.scope["path"]
        if variants.paths == "custom_data_tables" and path.startswith("/v1/custom-data/"):
            moved = _MOVED.fullmatch(path)
            if moved is None:
                return JSONResponse(error_body(404), status_code=404)
            request.scope["path"] = f"/v1/custom-data/{moved.group(1)}{moved.group(2) or ''}"
        return await call_next(request)
