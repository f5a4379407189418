"""``python -m lib.cli``: run connectors locally, inspect delta state, start the sandbox, demo.

    python -m lib.cli run sample_pull_suppliers --settings fixtures/settings/sample_pull_suppliers.json
    python -m lib.cli run connectors/my_connector.py --settings s.json \
        --param since_override=2024-01-01T00:00:00Z
    python -m lib.cli delta show sample_suppliers_eu suppliers --settings s.json
    python -m lib.cli delta reset sample_suppliers_eu suppliers --settings s.json
    python -m lib.cli delta reset sample_suppliers_eu suppliers --settings s.json --yes
    python -m lib.cli delta list --settings s.json
    python -m lib.cli check --settings fixtures/settings/connect_pull_suppliers.json
    python -m lib.cli discover [--json]
    python -m lib.cli quarantine list sample_suppliers_eu --settings s.json
    python -m lib.cli quarantine retry sample_pull_suppliers [KEY ...] --settings s.json
    python -m lib.cli quarantine discard sample_suppliers_eu suppliers KEY ... --settings s.json
    python -m lib.cli backfill plan connect_pull_suppliers --since 2024-01-01 --until 2025-01-01 \
        --windows 12 [--json] [--settings s.json]
    python -m lib.cli sandbox
    python -m lib.cli demo

Without ``--api-url`` the sandbox Nuntiq service is started as a child process on a
persistent SQLite file (``.nuntiq/sandbox.sqlite3``, or ``--db``), so delta cursors
survive between runs, and a job token is issued for the settings' customer. Config
values ``"sandbox:<service>"`` (e.g. ``"sandbox:connect"``) start that sandbox service
too and are replaced by its URL.
"""

from __future__ import annotations

import argparse
import io
import json
import signal
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.rule import Rule
from rich.table import Table
from rich.text import Text

from adapters.backfill import BackfillPlanError, plan_windows
from adapters.cursor import CursorError
from adapters.quarantine import DEFAULT_TABLE, QuarantineStore
from lib.api_client import ApiClient, ApiError
from lib.cli.catalog import catalog, settings_rows
from lib.cli.check import run_checks
from lib.cli.progress_display import RunMeter, live_display, plain_lines, traffic_lines
from lib.context import SettingsError, load_context, read_settings
from lib.delta import get_delta_state, list_delta_runs, list_delta_states, reset_delta_state
from lib.runner import (
    DEFAULT_DB,
    ConnectorLoadError,
    RunReport,
    Services,
    issue_token,
    load_connector,
    parse_params,
    resolve_sandbox_refs,
    run_connector,
    shipped_connectors,
)
from sandbox.server import SERVICES

DEFAULT_CUSTOMER = "10000001"


def _parse_service_options(pairs: Sequence[str]) -> dict[str, dict[str, Any]]:
    options: dict[str, dict[str, Any]] = {}
    for pair in pairs:
        name, sep, raw = pair.partition("=")
        if not sep:
            raise ValueError(f"--service-options expects NAME=JSON, got {pair!r}")
        try:
            value = json.loads(raw)
        except ValueError as exc:
            raise ValueError(f"--service-options {name}: not JSON ({exc})") from None
        if not isinstance(value, dict):
            raise ValueError(f"--service-options {name}: expected a JSON object")
        options[name.strip()] = value
    return options


def _nuntiq(args: argparse.Namespace, services: Services, customer: str) -> tuple[str, str]:
    """(api_url, job token): the given API, or a sandbox started on the persistent database."""
    if args.api_url:
        if not args.token:
            raise ValueError("--api-url needs --token")
        return args.api_url.rstrip("/"), args.token
    db = Path(args.db)
    db.parent.mkdir(parents=True, exist_ok=True)
    server = services.running.get("nuntiq")
    if server is None:
        from sandbox.server import serve_in_subprocess

        server = serve_in_subprocess("nuntiq", db_path=str(db))
        services.add("nuntiq", server)
    return server.url, issue_token(server.url, customer)


class _Printer:
    """Prints rich renderables to ``out``: styled on a terminal, plain and unpadded otherwise
    (trailing padding stripped, wide enough that piped output does not wrap). Markup is
    off: values such as ``[run completed]`` print as they are."""

    def __init__(self, out: Any) -> None:
        self.out = out
        self.terminal = bool(getattr(out, "isatty", lambda: False)())

    def print(self, *renderables: Any) -> None:
        buffer = io.StringIO()
        width = None if self.terminal else 200
        console = Console(
            file=buffer, width=width, force_terminal=self.terminal, markup=False, highlight=False
        )
        console.print(*renderables)
        lines = buffer.getvalue().splitlines()
        self.out.write("".join(line.rstrip() + "\n" for line in lines))
        self.out.flush()


def _console(out: Any) -> _Printer:
    return _Printer(out)


def _print_report(report: RunReport, out: Any, meter: RunMeter | None = None) -> None:
    console = _console(out)
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold")
    grid.add_column(overflow="fold")
    grid.add_row("connector", report.connector)
    grid.add_row("status", f"{'ok' if report.ok else 'FAILED'} ({report.seconds:.2f}s)")
    if report.ok:
        grid.add_row("result", json.dumps(report.result, default=str))
    else:
        grid.add_row("error", str(report.error))
    grid.add_row("rows written", report.rows_text())
    if not report.streams:
        grid.add_row("delta state", "(connector used no delta_run)")
    for s in report.streams:
        grid.add_row(
            "delta state",
            f"{s.connector_name}/{s.stream}: cursor {s.cursor_before or '(none)'} -> "
            f"{s.cursor_after or '(none)'} [run {s.status or '?'}, {s.records_processed} records]",
        )
    if meter is not None:
        for line in traffic_lines(meter):
            label, _, text = line.partition(": ") if line.startswith("retries") else ("requests", "", line)
            grid.add_row(label, text)
        phases = ", ".join(f"{name} {seconds:.2f}s" for name, seconds in meter.phases().items())
        grid.add_row("time", phases)
    console.print()
    console.print(Rule("summary", align="left"))
    console.print(grid)


def _progress(args: argparse.Namespace, meter: RunMeter) -> Any:
    """The live display on a terminal (human logs), plain progress lines otherwise."""
    if args.log_format != "json" and sys.stderr.isatty():
        return live_display(meter, Console(stderr=True))
    return plain_lines(meter, sys.stderr)


def cmd_run(args: argparse.Namespace) -> int:
    try:
        module = load_connector(args.connector)
        settings = read_settings(args.settings)
        params = parse_params(args.param or [])
        options = _parse_service_options(args.service_options or [])
    except ConnectorLoadError as exc:
        print(f"error: {exc}", file=sys.stderr)
        print(f"shipped connectors: {', '.join(shipped_connectors())}", file=sys.stderr)
        return 2
    except (SettingsError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    with Services(options=options) as services:
        try:
            api_url, token = _nuntiq(args, services, settings["customer_number"])
            settings["config"] = resolve_sandbox_refs(settings["config"], services)
        except (ValueError, RuntimeError) as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        for name, server in services.running.items():
            print(f"sandbox {name}: {server.url}", file=sys.stderr)
        meter = RunMeter()
        with _progress(args, meter):
            report = run_connector(
                module,
                settings,
                api_url=api_url,
                job_token=token,
                params=params,
                log_stream=None,  # sys.stderr at each write, so a live display can redirect it
                log_format=args.log_format,
            )
    if not report.ok and args.traceback and report.error_trace:
        print(report.error_trace, file=sys.stderr)
    _print_report(report, sys.stdout, meter)
    return 0 if report.ok else 1


def cmd_check(args: argparse.Namespace) -> int:
    try:
        settings = read_settings(args.settings)
    except SettingsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    started = time.monotonic()
    with Services() as services:
        try:
            api_url, token = _nuntiq(args, services, settings["customer_number"])
            settings["config"] = resolve_sandbox_refs(settings["config"], services)
        except (ValueError, RuntimeError) as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        origin = "--api-url" if args.api_url else "sandbox started for this check"
        context = load_context(settings, api_url=api_url, job_token=token, log_stream=io.StringIO())
        try:
            results = run_checks(context, api_url=api_url, token=token, api_origin=origin)
        finally:
            context.api.close()
    table = Table.grid(padding=(0, 2))
    for _ in range(3):
        table.add_column(overflow="fold")
    for r in results:
        verdict = Text("OK", style="green") if r.ok else Text("FAILED", style="bold red")
        table.add_row(Text(r.service, style="bold"), verdict, f"{r.target} ({r.seconds:.2f}s)")
        table.add_row("", "detail", str(context.redact(r.detail)))
        if r.fix:
            table.add_row("", "fix", r.fix)
        table.add_row("", "cost", r.cost)
    console = _console(sys.stdout)
    console.print(Rule(f"check {args.settings}", align="left"), table)
    failed = [r for r in results if not r.ok]
    console.print(
        f"{len(results) - len(failed)} of {len(results)} checks OK in {time.monotonic() - started:.1f}s; "
        "nothing was written"
    )
    return 1 if failed else 0


def cmd_discover(args: argparse.Namespace) -> int:
    entries = catalog()
    if args.json:
        print(json.dumps(entries, indent=2))
        return 0
    console = _console(sys.stdout)
    for name, entry in entries.items():
        streams = Table(title=f"{name}: streams", title_justify="left")
        for column in ("stream", "kind", "key", "cursor field", "ordering", "paging"):
            streams.add_column(column, overflow="fold")
        for s in entry["streams"]:
            streams.add_row(s["name"], s["kind"], s["key"], s["cursor_field"], s["ordering"], s["paging"])
        console.print(streams)
        keys = Table(title=f"{name}: settings (JSON Schema with --json)", title_justify="left")
        for column in ("config key", "type", "default", "meaning"):
            keys.add_column(column, overflow="fold")
        for row in settings_rows(entry["settings_schema"]):
            keys.add_row(*row)
        console.print(keys)
    return 0


def _delta_api(args: argparse.Namespace, services: Services) -> ApiClient:
    customer = args.customer
    if args.settings:
        customer = read_settings(args.settings)["customer_number"]
    api_url, token = _nuntiq(args, services, customer)
    return ApiClient(api_url, token, customer)


def _confirm(question: str) -> bool:
    """Ask on the terminal; without one (a script, CI) the answer is no."""
    if not sys.stdin.isatty():
        print(f"{question}(no terminal to ask: pass --yes)", file=sys.stderr)
        return False
    try:
        return input(question).strip().lower() in ("y", "yes")
    except EOFError:
        return False


def cmd_delta(args: argparse.Namespace) -> int:
    with Services() as services:
        try:
            api = _delta_api(args, services)
            if args.delta_command == "reset":
                if not args.yes and not _confirm(
                    f"delete the cursor of {args.connector_name}/{args.stream}? The next run bootstraps "
                    "from lookback_days. [y/N] "
                ):
                    print("not reset (confirm with y, or pass --yes)")
                    return 1
                deleted = reset_delta_state(api, args.connector_name, args.stream)
                print(
                    f"{args.connector_name}/{args.stream}: "
                    + ("cursor deleted; the next run bootstraps" if deleted else "no stored cursor")
                )
                return 0
            if args.delta_command == "list":
                for stored in list_delta_states(api):
                    print(f"{stored['connector_name']}/{stored['stream']}: {stored['cursor']}")
                return 0
            state = get_delta_state(api, args.connector_name, args.stream)
            print(f"{args.connector_name}/{args.stream}")
            if state is None:
                print("  cursor: (none)")
            else:
                print(f"  cursor: {state['cursor']} ({state['cursor_type']}, updated {state['updated_at']})")
            runs = list_delta_runs(api, args.connector_name, args.stream, limit=args.limit)
            if runs:
                table = Table(title="recent runs (newest first)", title_justify="left")
                for column in ("started", "status", "lower bound", "new cursor", "records", "error"):
                    table.add_column(column, overflow="fold")
                for run in runs:
                    table.add_row(
                        str(run["started_at"]),
                        str(run["status"]),
                        run["lower_bound_cursor"] or "-",
                        run["new_cursor"] or "-",
                        str(run["records_processed"]),
                        (run.get("error") or "")[:120],
                    )
                _console(sys.stdout).print(table)
            return 0
        except (ApiError, SettingsError, ValueError) as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1


def _quarantine_store(args: argparse.Namespace, api: ApiClient) -> QuarantineStore:
    table = DEFAULT_TABLE
    if args.settings:
        block = read_settings(args.settings)["config"].get("quarantine")
        if isinstance(block, dict) and block.get("table"):
            table = str(block["table"])
    return QuarantineStore(api, namespace=args.connector_name, table=table)


def cmd_quarantine(args: argparse.Namespace) -> int:
    """List or discard quarantined items; ``retry`` runs the connector retrying the named ones."""
    if args.quarantine_command == "retry":
        keys = list(args.keys or [])
        args.param = [*(args.param or []), f"quarantine_retry={json.dumps(keys) if keys else 'all'}"]
        return cmd_run(args)
    with Services() as services:
        try:
            store = _quarantine_store(args, _delta_api(args, services))
            if args.quarantine_command == "discard":
                present = {e.key for e in store.entries(args.stream)}
                keys = sorted(present) if args.all else list(args.keys or [])
                if not keys:
                    print("error: name the keys to discard, or --all", file=sys.stderr)
                    return 2
                missing = [k for k in keys if k not in present]
                store.remove(args.stream, [k for k in keys if k in present])
                print(f"{args.connector_name}/{args.stream}: discarded {len(keys) - len(missing)} item(s)")
                for key in missing:
                    print(f"  not quarantined: {key}")
                return 1 if missing else 0
            shown = 0
            for entry in store.entries(args.stream):
                shown += 1
                print(
                    f"{entry.stream}  {entry.key}  [{entry.stage}]  first {entry.first_seen.isoformat()}"
                    f"  last {entry.last_seen.isoformat()}  seen {entry.times_seen}x"
                )
                print(f"    reason: {entry.reason}")
                if entry.refetch:
                    print(f"    refetch: {json.dumps(dict(entry.refetch), default=str)}")
            scope = f"{args.connector_name}/{args.stream}" if args.stream else args.connector_name
            print(f"{scope}: {shown} quarantined item(s)")
            return 0
        except (ApiError, SettingsError, ValueError) as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1


def backfill_jobs(args: argparse.Namespace) -> list[dict[str, Any]]:
    """One framework job per window of the plan: connector, job params, lease scope, local command."""
    windows = plan_windows(args.since, args.until, windows=args.windows, window_days=args.window_days)
    settings = args.settings or f"fixtures/settings/{Path(args.connector).stem}.json"
    jobs = []
    for number, window in enumerate(windows, 1):
        params = window.params()
        command = ["python", "-m", "lib.cli", "run", args.connector, "--settings", settings]
        for key, value in params.items():
            command += ["--param", f"{key}={value}"]
        jobs.append(
            {
                "window": number,
                "connector": args.connector,
                "params": params,
                "lease_scope": window.lease_scope,
                "command": command,
            }
        )
    return jobs


def cmd_backfill(args: argparse.Namespace) -> int:
    try:
        load_connector(args.connector)
        jobs = backfill_jobs(args)
    except (ConnectorLoadError, BackfillPlanError, CursorError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps({"connector": args.connector, "jobs": jobs}, indent=2))
        return 0
    print(
        f"{len(jobs)} bounded backfill jobs of {args.connector} (each under its own lease scope, "
        "none touches the stored cursor; run them in any order, side by side):"
    )
    for job in jobs:
        params = job["params"]
        print(f"  {job['window']:>4}  since_override={params['since_override']}  "
              f"until_override={params['until_override']}")  # fmt: skip
    print("locally, one of them:")
    print("  " + " ".join(jobs[0]["command"]))
    return 0


def cmd_sandbox(args: argparse.Namespace) -> int:
    from sandbox.server import serve_in_subprocess

    db = Path(args.db)
    db.parent.mkdir(parents=True, exist_ok=True)
    with Services() as services:
        services.add("nuntiq", serve_in_subprocess("nuntiq", db_path=str(db)))
        for name in SERVICES:
            if name == "nuntiq":
                continue
            try:
                services.get(name)
            except Exception as exc:  # a service that is not built yet must not block the others
                print(f"sandbox {name}: not started ({exc})", file=sys.stderr)
        listing = Table.grid(padding=(0, 2))
        for name, server in services.running.items():
            listing.add_row(name, server.url)
        _console(sys.stdout).print(listing)
        token = issue_token(services.running["nuntiq"].url, args.customer)
        print(f"nuntiq job token for customer {args.customer}: {token}")
        print(f"nuntiq database: {db}")
        print("Ctrl-C to stop.", flush=True)
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            print("stopping", file=sys.stderr)
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from lib.cli.demo import main as demo_main

    return demo_main(verbose=args.verbose)


def _add_api_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--api-url", help="Nuntiq customer API base URL (default: start the sandbox)")
    parser.add_argument("--token", help="job token for --api-url")
    parser.add_argument("--db", default=str(DEFAULT_DB), help="sandbox database file (default: %(default)s)")


def _add_run_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("connector", help="module name under connectors/ or a path to a .py file")
    parser.add_argument("--settings", required=True, help="settings.json")
    parser.add_argument("--param", action="append", metavar="KEY=VALUE", help="job param (repeatable)")
    parser.add_argument(
        "--service-options",
        action="append",
        metavar="SERVICE=JSON",
        help="create_app options for a sandbox service started for 'sandbox:<service>' config values",
    )
    parser.add_argument("--log-format", choices=("human", "json"), default="human")
    parser.add_argument("--traceback", action="store_true", help="print the (redacted) traceback on failure")
    _add_api_options(parser)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m lib.cli", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="run a connector once")
    _add_run_options(run)
    run.set_defaults(func=cmd_run)

    check = sub.add_parser(
        "check", help="check each service a settings file names (credentials, endpoint), writing nothing"
    )
    check.add_argument("--settings", required=True, help="settings.json")
    _add_api_options(check)
    check.set_defaults(func=cmd_check)

    for command in ("discover", "streams"):
        discover = sub.add_parser(
            command, help="list each integration's streams (key, cursor, ordering, paging) and settings"
        )
        discover.add_argument("--json", action="store_true", help="machine-readable, with the JSON Schemas")
        discover.set_defaults(func=cmd_discover)

    delta = sub.add_parser("delta", help="show or reset delta state")
    delta_sub = delta.add_subparsers(dest="delta_command", required=True)
    for name, text in (
        ("show", "show a stream's cursor and recent runs"),
        ("reset", "delete a stream's cursor"),
    ):
        p = delta_sub.add_parser(name, help=text)
        p.add_argument("connector_name")
        p.add_argument("stream")
        p.add_argument("--limit", type=int, default=10, help="runs to show")
    delta_sub.choices["reset"].add_argument("--yes", action="store_true", help="do not ask for confirmation")
    delta_sub.add_parser("list", help="list every stored cursor of the customer")
    for p in delta_sub.choices.values():
        p.add_argument("--settings", help="settings.json (for the customer number)")
        p.add_argument("--customer", default=DEFAULT_CUSTOMER, help="customer number (default: %(default)s)")
        _add_api_options(p)
    delta.set_defaults(func=cmd_delta)

    quarantine = sub.add_parser("quarantine", help="list, retry or discard quarantined items")
    quarantine_sub = quarantine.add_subparsers(dest="quarantine_command", required=True)
    listing = quarantine_sub.add_parser("list", help="show a connector's quarantined items")
    listing.add_argument("connector_name")
    listing.add_argument("stream", nargs="?", help="only this stream")
    discard = quarantine_sub.add_parser("discard", help="give up quarantined items (they are not retried)")
    discard.add_argument("connector_name")
    discard.add_argument("stream")
    discard.add_argument("keys", nargs="*", metavar="KEY")
    discard.add_argument("--all", action="store_true", help="every item of the stream")
    for p in (listing, discard):
        p.add_argument("--settings", help="settings.json (customer number, config.quarantine.table)")
        p.add_argument("--customer", default=DEFAULT_CUSTOMER, help="customer number (default: %(default)s)")
        _add_api_options(p)
    retry = quarantine_sub.add_parser(
        "retry", help="run a connector now, retrying only the named quarantined items (default: all)"
    )
    _add_run_options(retry)
    retry.add_argument("keys", nargs="*", metavar="KEY")
    quarantine.set_defaults(func=cmd_quarantine)

    backfill = sub.add_parser("backfill", help="plan a backfill as bounded windows run as parallel jobs")
    backfill_sub = backfill.add_subparsers(dest="backfill_command", required=True)
    plan = backfill_sub.add_parser(
        "plan",
        help="split [--since, --until] into windows; print each window's job params",
        description="Split a history into bounded windows. Each window is one framework job with "
        "since_override and until_override: it never touches the stored cursor and holds a lease scope "
        "of its own, so the jobs run concurrently beside the scheduled one.",
    )
    plan.add_argument("connector", help="module name under connectors/ or a path to a .py file")
    plan.add_argument("--since", required=True, help="first instant of the history (inclusive)")
    plan.add_argument("--until", required=True, help="last instant of the history (inclusive)")
    size = plan.add_mutually_exclusive_group(required=True)
    size.add_argument("--windows", type=int, help="this many equal windows")
    size.add_argument("--window-days", type=float, help="windows of this many days (the last one shorter)")
    plan.add_argument("--settings", help="settings.json for the printed local commands")
    plan.add_argument("--json", action="store_true", help="the jobs as JSON")
    backfill.set_defaults(func=cmd_backfill)

    sandbox = sub.add_parser("sandbox", help="start the sandbox services and wait for Ctrl-C")
    sandbox.add_argument("--customer", default=DEFAULT_CUSTOMER)
    sandbox.add_argument("--db", default=str(DEFAULT_DB))
    sandbox.set_defaults(func=cmd_sandbox)

    demo = sub.add_parser(
        "demo",
        help="run every shipped connector three times (load, idle rerun, change) against a fresh sandbox",
        description="Run every shipped connector three times against fresh sandbox services: run 1 loads "
        "everything, run 2 sees no source change and must write nothing, run 3 picks up only what changed.",
    )
    demo.add_argument("--verbose", action="store_true", help="show the connectors' log lines")
    demo.set_defaults(func=cmd_demo)
    return parser


def _exit_on_signal(signum: int, _frame: object) -> None:
    # Unwind normally so the sandbox services this process started are stopped too.
    raise KeyboardInterrupt(f"signal {signum}")


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _exit_on_signal)
        if args.command == "sandbox":
            signal.signal(signal.SIGINT, _exit_on_signal)  # also when started in the background
    result: int = args.func(args)
    return result


if __name__ == "__main__":
    sys.exit(main())
