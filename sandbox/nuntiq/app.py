"""The sandbox Nuntiq customer-API service (``create_app`` is registered as "nuntiq").

Routes are listed in API.md, the project's single statement of what it assumes
about the real customer API.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

from sandbox.admin import install_faults
from sandbox.faults import FaultPlan, FaultState
from sandbox.nuntiq import admin, custom_data, delta, documents, files, invoices, suppliers
from sandbox.nuntiq.errors import error_body, install_error_handlers
from sandbox.nuntiq.moved import install_moved_paths
from sandbox.nuntiq.store import Store
from sandbox.nuntiq.variants import Variants


def create_app(
    db_path: str | None = None,
    tokens: dict[str, str] | None = None,
    faults: dict[str, Any] | None = None,
    variants: dict[str, Any] | None = None,
    clock_offset_seconds: float = 0.0,
) -> FastAPI:
    """``db_path`` None keeps data in memory; ``tokens`` maps job token -> customer number.

    ``variants`` picks the answers to unconfirmed assumptions (:mod:`sandbox.nuntiq.variants`);
    ``clock_offset_seconds`` runs the service's clock that far from the host's.
    """
    app = FastAPI(title="Nuntiq customer API (sandbox)", docs_url=None, redoc_url=None, openapi_url=None)
    store = Store(db_path, clock_offset_seconds=clock_offset_seconds)
    app.state.store = store
    app.state.variants = Variants(**(variants or {}))
    with store.tx() as conn:
        for token, customer in (tokens or {}).items():
            conn.execute(
                "INSERT INTO job_tokens (token, customer, created_at) VALUES (?, ?, ?) "
                "ON CONFLICT (token) DO UPDATE SET customer = excluded.customer",
                (token, str(customer), store.now()),
            )
    state = FaultState(lambda status: error_body(status), FaultPlan(**(faults or {})))
    app.state.faults = state
    install_error_handlers(app)
    install_moved_paths(app)
    for module in (suppliers, documents, files, invoices, custom_data, delta, admin):
        app.include_router(module.router)
    install_faults(app, state)
    return app
