"""``python -m lib.cli demo``: every shipped connector, three times, against fresh sandbox services.

Services start in a temporary directory (nothing persists). Each entry of
:data:`DEMO_CONNECTORS` says which connector to run, which settings fixture to use,
how to seed its source before the first run and what to change in the source
before the third run. Run 1 loads; run 2 sees no source change and must write
nothing; run 3 picks up only the change. Every run must start from the cursor the
one before it committed; the summary table shows that, with the items each run read
and the rows the Nuntiq service counted as created or changed ("changed (server)").

Each entry comes from its integration's plug-in (:mod:`lib.integrations`): to add a
connector, add a :class:`~lib.integrations.DemoConnector` to its plug-in. Config values
``"sandbox:<service>"`` start that sandbox service and are replaced by its URL;
``prepare`` may return config overrides (e.g. a seeded file's path).
"""

from __future__ import annotations

import io
import sys
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from rich import box
from rich.console import Console
from rich.table import Table

from lib.context import read_settings
from lib.integrations import DemoConnector, DemoEnv, demo_connectors
from lib.runner import (
    REPO_ROOT,
    RunReport,
    Services,
    StreamReport,
    issue_token,
    resolve_sandbox_refs,
    run_connector,
)
from sandbox.server import serve_in_thread

#: every plug-in's demo entries (lib.integrations), in registry order
DEMO_CONNECTORS: list[DemoConnector] = demo_connectors()


@dataclass
class DemoResult:
    connector: str
    runs: list[RunReport]

    @property
    def cursor_carried(self) -> bool:
        """Each run started from what the run before it left stored, stream by stream."""
        if len(self.runs) < 2:
            return False
        for previous, current in zip(self.runs, self.runs[1:], strict=False):
            after = {(s.connector_name, s.stream): s.cursor_after for s in previous.streams}
            before = {(s.connector_name, s.stream): s.cursor_before for s in current.streams}
            if not after or any(before.get(key) != value for key, value in after.items()):
                return False
        return True

    @property
    def idle_rerun_wrote_nothing(self) -> bool:
        """The run with no source change (run 2) wrote no rows."""
        return len(self.runs) >= 2 and self.runs[1].total_rows == 0


def run_demo(
    entries: list[DemoConnector] | None = None, *, verbose: bool = False, workdir: Path | None = None
) -> list[DemoResult]:
    entries = DEMO_CONNECTORS if entries is None else entries
    log_stream = sys.stderr if verbose else io.StringIO()
    results: list[DemoResult] = []
    with tempfile.TemporaryDirectory(prefix="nuntiq-demo-") as tmp:
        root = workdir or Path(tmp)
        with Services(starter=serve_in_thread) as services:
            nuntiq = serve_in_thread("nuntiq", db_path=str(root / "nuntiq.sqlite3"))
            services.add("nuntiq", nuntiq)
            for entry in entries:
                settings = read_settings(REPO_ROOT / entry.settings)
                scratch = root / entry.name
                scratch.mkdir(parents=True, exist_ok=True)
                env = DemoEnv(scratch, services, settings)
                if entry.prepare is not None:
                    settings["config"].update(entry.prepare(env) or {})
                settings["config"] = resolve_sandbox_refs(settings["config"], services)
                runs = []
                for attempt in (1, 2, 3):
                    if attempt == 3 and entry.between_runs is not None:
                        entry.between_runs(env)
                    token = issue_token(nuntiq.url, settings["customer_number"])
                    runs.append(
                        run_connector(
                            entry.name,
                            settings,
                            api_url=nuntiq.url,
                            job_token=token,
                            params=dict(entry.params),
                            log_stream=log_stream,
                        )
                    )
                results.append(DemoResult(entry.name, runs))
    return results


def _pushed(report: RunReport) -> str:
    """Files a push connector delivered to its target (not counted by Nuntiq's write counters)."""
    uploaded = report.result.get("uploaded") if isinstance(report.result, Mapping) else None
    return str(uploaded) if isinstance(uploaded, int) else "-"


def build_table(results: list[DemoResult]) -> Table:
    """One row per connector, run and delta stream.

    ``read`` is what the connector's syncs read from their sources; ``changed (server)``
    is what the Nuntiq service counted as created or changed (its write counters), so an
    idle rerun that re-reads the boundary item shows read 1, changed 0.
    """
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False)
    for column in (
        "connector",
        "run",
        "status",
        "read",
        "changed (server)",
        "pushed",
        "stream",
        "cursor before",
        "cursor after",
    ):
        numeric = column in ("run", "read", "changed (server)", "pushed")
        table.add_column(column, justify="right" if numeric else "left")
    for result in results:
        for number, report in enumerate(result.runs, start=1):
            streams: list[StreamReport | None] = list(report.streams) or [None]
            for index, stream in enumerate(streams):
                first = index == 0
                table.add_row(
                    result.connector if first else "",
                    str(number) if first else "",
                    ("ok" if report.ok else "FAILED") if first else "",
                    str(report.items_read) if first else "",
                    (str(report.total_rows) if report.total_rows is not None else "n/a") if first else "",
                    _pushed(report) if first else "",
                    f"{stream.connector_name}/{stream.stream}" if stream else "-",
                    (stream.cursor_before or "(none)") if stream else "-",
                    (stream.cursor_after or "(none)") if stream else "-",
                )
    return table


def format_table(results: list[DemoResult]) -> str:
    """The table as plain text (no colour, no trailing padding), for logs and tests."""
    buffer = io.StringIO()
    console = Console(file=buffer, width=250, color_system=None, markup=False, highlight=False)
    console.print(build_table(results))
    return "\n".join(line.rstrip() for line in buffer.getvalue().splitlines()).strip("\n")


def main(verbose: bool = False) -> int:
    started = time.monotonic()
    print(
        "starting sandbox services and running each demo connector three times ...",
        file=sys.stderr,
        flush=True,
    )
    results = run_demo(verbose=verbose)
    print(format_table(results))
    print()
    ok = True
    for result in results:
        for number, report in enumerate(result.runs, start=1):
            if not report.ok:
                ok = False
                print(f"{result.connector} run {number} failed: {report.error}")
        carried = result.cursor_carried
        idle = result.idle_rerun_wrote_nothing
        ok = ok and carried and idle
        print(
            f"{result.connector}: "
            + (
                "each run started from the previous cursor"
                if carried
                else "a run did NOT start from the previous cursor"
            )
            + "; "
            + ("run 2 (no source change) wrote nothing" if idle else "run 2 (no source change) WROTE rows")
        )
    print(f"demo finished in {time.monotonic() - started:.1f}s: {'ok' if ok else 'FAILED'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(verbose="--verbose" in sys.argv))
