"""The ``/_sandbox`` control endpoints every service shares: fault plan and counters."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

from sandbox.faults import ADMIN_PREFIX, FaultInjector, FaultPlan, FaultState


def install_faults(app: FastAPI, state: FaultState) -> None:
    """Wrap ``app`` with the fault injector and add the admin routes that steer it."""

    @app.get(f"{ADMIN_PREFIX}/faults")
    def get_faults() -> dict[str, Any]:
        return state.plan.model_dump()

    @app.put(f"{ADMIN_PREFIX}/faults")
    def put_faults(plan: FaultPlan) -> dict[str, Any]:
        state.set_plan(plan)
        return state.plan.model_dump()

    @app.get(f"{ADMIN_PREFIX}/stats")
    def get_stats() -> dict[str, int]:
        return state.snapshot()

    @app.post(f"{ADMIN_PREFIX}/stats/reset")
    def reset_stats() -> dict[str, int]:
        state.reset_stats()
        return state.snapshot()

    app.add_middleware(FaultInjector, state=state)  # type: ignore[arg-type]
