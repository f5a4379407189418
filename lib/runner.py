"""Run one connector against the sandbox (or a given API) and report what it did.

Shared by ``python -m lib.cli run`` and the demo: load the connector module,
start whatever sandbox services its settings ask for (``"sandbox:<service>"`` config
values), build the context, call ``run(context)`` and collect a :class:`RunReport`:
the result, the redacted error if any, rows written (from the service's write
counters) and each delta stream's cursor before and after.
"""

from __future__ import annotations

import importlib
import importlib.util
import re
import sys
import time
import traceback
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any, TextIO
from urllib.parse import urlsplit

import httpx

from adapters import progress
from adapters.progress import EventKind, ProgressEvent
from lib.api_client import ApiClient, ApiError
from lib.context import Context, load_context
from lib.delta import get_delta_state
from lib.jobcontext import issue_job_token, write_counters
from sandbox.server import SERVICES, RunningServer, serve_in_subprocess

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DB = REPO_ROOT / ".nuntiq" / "sandbox.sqlite3"
SANDBOX_REF = re.compile(r"^sandbox:([a-z][a-z0-9_]*)$")

#: write-counter kind -> label; custom data rows are bookkeeping, listed but not totalled
ROW_KINDS = {
    "suppliers_changed": "suppliers",
    "source_documents_created": "source documents",
    "invoices_created": "invoices",
    "lifecycle_messages_created": "lifecycle messages",
}
BOOKKEEPING_KINDS = {"custom_data_rows_written": "custom data rows"}


class ConnectorLoadError(Exception):
    """The connector module could not be found or has no ``run(context)``."""


def load_connector(spec: str) -> ModuleType:
    """``spec`` is a module name under ``connectors/`` (or dotted path) or a path to a ``.py`` file."""
    if spec.endswith(".py") or "/" in spec or "\\" in spec:
        path = Path(spec).resolve()
        if not path.is_file():
            raise ConnectorLoadError(f"connector file not found: {spec}")
        name = f"connector_{path.stem}"
        module_spec = importlib.util.spec_from_file_location(name, path)
        if module_spec is None or module_spec.loader is None:
            raise ConnectorLoadError(f"cannot load {spec}")
        module = importlib.util.module_from_spec(module_spec)
        sys.modules[name] = module
        module_spec.loader.exec_module(module)
    else:
        name = spec if "." in spec else f"connectors.{spec}"
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name in (name, name.rpartition(".")[0]) or (exc.name or "").startswith("connectors."):
                raise ConnectorLoadError(f"no connector named {spec!r} (looked for module {name})") from None
            raise
    if not callable(getattr(module, "run", None)):
        raise ConnectorLoadError(f"connector {spec!r} has no run(context) function")
    return module


def shipped_connectors() -> list[str]:
    """Module names under ``connectors/`` that have a ``run(context)``, sorted."""
    names = []
    for path in sorted((REPO_ROOT / "connectors").glob("*.py")):
        if path.stem != "__init__" and "def run(" in path.read_text(encoding="utf-8"):
            names.append(path.stem)
    return names


def parse_params(pairs: list[str]) -> dict[str, str]:
    """``["key=value", ...]`` -> dict; values stay strings, as the framework delivers them."""
    params: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise ValueError(f"--param expects key=value, got {pair!r}")
        params[key.strip()] = value
    return params


class Services:
    """Sandbox services started on demand and stopped together."""

    def __init__(
        self,
        starter: Callable[..., RunningServer] = serve_in_subprocess,
        options: Mapping[str, Mapping[str, Any]] | None = None,
    ) -> None:
        self._starter = starter
        self._options = {k: dict(v) for k, v in (options or {}).items()}
        self.running: dict[str, RunningServer] = {}

    def get(self, name: str) -> RunningServer:
        if name not in SERVICES:
            raise ValueError(f"unknown sandbox service {name!r} (known: {', '.join(sorted(SERVICES))})")
        if name not in self.running:
            self.running[name] = self._starter(name, **self._options.get(name, {}))
        return self.running[name]

    def add(self, name: str, server: RunningServer) -> None:
        self.running[name] = server

    def stop(self) -> None:
        for server in reversed(list(self.running.values())):
            server.stop()
        self.running.clear()

    def __enter__(self) -> Services:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def resolve_sandbox_refs(value: Any, services: Services) -> Any:
    """Replace every ``"sandbox:<service>"`` string (at any depth) with that service's URL."""
    if isinstance(value, str):
        match = SANDBOX_REF.match(value.strip())
        return services.get(match.group(1)).url if match else value
    if isinstance(value, Mapping):
        return {k: resolve_sandbox_refs(v, services) for k, v in value.items()}
    if isinstance(value, list):
        return [resolve_sandbox_refs(v, services) for v in value]
    return value


def issue_token(api_url: str, customer_number: str) -> str:
    """A job token from the sandbox Nuntiq service (:func:`lib.jobcontext.issue_job_token`)."""
    return issue_job_token(api_url, customer_number)


def read_counters(api_url: str, customer_number: str) -> dict[str, int] | None:
    """The sandbox's write counters, or None when the API is not a sandbox."""
    try:
        return write_counters(api_url, customer_number)
    except httpx.HTTPError:  # no answer, or a non-sandbox API without the admin route
        return None


@dataclass
class StreamReport:
    connector_name: str
    stream: str
    cursor_before: str | None
    cursor_after: str | None
    status: str | None = None
    records_processed: int | None = None


@dataclass
class RunReport:
    connector: str
    ok: bool
    result: Any = None
    error: str | None = None
    error_trace: str | None = None
    rows_written: dict[str, int] | None = None
    streams: list[StreamReport] = field(default_factory=list)
    seconds: float = 0.0
    #: items the connector's syncs read from their sources (from adapters.progress events)
    items_read: int = 0

    @property
    def total_rows(self) -> int | None:
        if self.rows_written is None:
            return None
        return sum(n for kind, n in self.rows_written.items() if kind in ROW_KINDS)

    def rows_text(self) -> str:
        if self.rows_written is None:
            return "n/a (not a sandbox API)"
        parts = [
            f"{labels[kind]} {n}"
            for labels in (ROW_KINDS, BOOKKEEPING_KINDS)
            for kind, n in self.rows_written.items()
            if kind in labels and n
        ]
        return f"{self.total_rows}" + (f" ({', '.join(parts)})" if parts else "")


def _delta_reports(context: Context) -> list[StreamReport]:
    reports = []
    for entry in context.delta_runs:
        state = None
        status = None
        records = None
        try:
            state = get_delta_state(context.api, entry["connector_name"], entry["stream"])
            run = context.api.get(f"/v1/delta/runs/{entry['run_id']}")
            status = run.get("status")
            records = run.get("records_processed")
        except ApiError:
            pass
        reports.append(
            StreamReport(
                entry["connector_name"],
                entry["stream"],
                entry["lower_bound_cursor"],
                state.get("cursor") if state else None,
                status,
                records,
            )
        )
    return reports


def _report_nuntiq_response(response: Any, *args: Any, **kwargs: Any) -> None:
    """Nuntiq calls of the local runtime, for the progress display (production's lib is its own)."""
    size = response.headers.get("Content-Length", "")
    progress.report_response(
        f"nuntiq {urlsplit(response.url).netloc}",
        size=int(size) if size.isdigit() else 0,
        seconds=response.elapsed.total_seconds(),
    )


def run_connector(
    connector: str | ModuleType,
    settings: Mapping[str, Any],
    *,
    api_url: str,
    job_token: str,
    params: Mapping[str, Any] | None = None,
    log_stream: TextIO | None = None,
    log_format: str = "human",
    timeout: float = 30,
) -> RunReport:
    """Call ``run(context)`` once; never raises for connector failures (they are in the report).

    ``timeout``: seconds the Nuntiq client waits for an answer (the framework's is not
    documented; the overlap proof shortens it so slow uploads time out).
    """
    module = load_connector(connector) if isinstance(connector, str) else connector
    name = module.__name__.rpartition(".")[2]
    context = load_context(
        settings,
        api_url=api_url,
        job_token=job_token,
        params=params,
        log_stream=log_stream,
        log_format=log_format,
        timeout=timeout,
    )
    context.api.session.hooks["response"].append(_report_nuntiq_response)
    before = read_counters(api_url, context.customer_number)
    started = time.monotonic()
    report = RunReport(connector=name, ok=True)
    read: list[int] = []

    def count_reads(event: ProgressEvent) -> None:
        if event.kind is EventKind.READ:
            read.append(event.count)

    try:
        with progress.observing(count_reads):
            report.result = context.redact(module.run(context))
    except Exception as exc:
        report.ok = False
        report.error = str(context.redact(f"{type(exc).__name__}: {exc}"))
        report.error_trace = str(context.redact(traceback.format_exc()))
        context.logger.error("connector failed", step="run", detail={"error": report.error})
    report.seconds = time.monotonic() - started
    report.items_read = sum(read)
    after = read_counters(api_url, context.customer_number)
    if before is not None and after is not None:
        kinds = {*ROW_KINDS, *BOOKKEEPING_KINDS}
        report.rows_written = {k: after.get(k, 0) - before.get(k, 0) for k in sorted(kinds)}
    report.streams = _delta_reports(context)
    context.api.close()
    return report


def api_for(api_url: str, token: str, customer_number: str) -> ApiClient:
    return ApiClient(api_url, token, customer_number)
