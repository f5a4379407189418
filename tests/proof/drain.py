"""Budgets, checkpoints and backfill windows, proven on the sandboxes (not fakes).

* **three budgets**: a backlog sized to need three time budgets (slow sandbox answers, a
  small budget) drains in three scheduled runs: the first two stop at their budget with
  ``outcome="partial"``, say so, and have moved the stored cursor (their committed
  prefix); the third completes; the ground truth then shows 0 duplicates, 0 missing.
  Run for a Connect Load connector (suppliers, an ordered stream: the flushed prefix)
  and the Codat pull (unordered: the days it finished);
* **Codat killed mid-backlog**: a child process running the Codat pull with a
  checkpoint per finished day is SIGKILLed part way; Nuntiq's write log shows it wrote at
  most one day's files after its last stored cursor, and the rerun delivers the rest;
* **backfill windows**: the planner's windows of a history run as concurrent jobs beside
  a scheduled run of the same connector; every window completes (none finds another
  busy), the ground truth is exact, and one sequential run over the whole history
  afterwards finds nothing left to write: the windows found the same data it does.

Every figure comes from the sandboxes' own records (truth endpoints, Nuntiq's write log).
"""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any, TextIO

import httpx

from adapters.backfill import plan_windows
from adapters.cursor import format_cursor, parse_timestamp
from tests.proof.env import CODAT_COMPANY, ProofEnv, RunRecord, Sizes
from tests.proof.overlap import (
    OVERLAP_RUN,
    TTL,
    Outcomes,
    ScenarioResult,
    _child,
    _child_log,
    _run_tokens,
    _summaries,
    _wait_documents,
)
from tests.proof.truth import compare
from tests.proof.writers import check_writers

#: the data set of these scenarios: enough Codat days that "one day" is a small share
DRAIN_SIZES = Sizes(listings=40, vendors=12, billing_batches=6, codat_files=24, codat_days=6)
#: files per Codat day of :data:`DRAIN_SIZES` (the seed spreads files evenly over days)
CODAT_FILES_PER_DAY = DRAIN_SIZES.codat_files // DRAIN_SIZES.codat_days


#: one upload at a time, each as it is read: the budget and kill scenarios are sized by the
#: time each upload takes, and a batch sink would defer them all to the end of the read
ONE_BY_ONE: dict[str, float] = {"upload_batch_size": 1, "upload_concurrency": 1}


def _run_settings(env: ProofEnv, connector: str, **limits: float) -> None:
    env.settings[connector]["config"]["run"] = {**OVERLAP_RUN, **limits}


def _one_codat_company(env: ProofEnv) -> None:
    """The Codat pull of these scenarios reads one company, so each run is one sync."""
    codat = dict(env.settings["codat_pull_files"]["config"]["codat"])
    codat["company_ids"] = [CODAT_COMPANY]
    env.settings["codat_pull_files"]["config"]["codat"] = codat


# -- three budgets -------------------------------------------------------------------------------


#: per connector: slow the sandbox so the backlog takes about 2.5 budgets, and the budget
BUDGET_SETUPS: dict[str, dict[str, Any]] = {
    # 40 listings on pages of 3, every Connect answer 250 ms late: ~14 pages (and partner
    # lookups) take about 7 s in all
    "connect_pull_suppliers": {"budget": 3.0, "page_size": 3, "connect_slow_ms": 250},
    # 24 files over 6 days, every upload 200 ms: about 5 s of uploads, plus listing and
    # archive downloads in every run
    "codat_pull_files": {"budget": 2.6, "upload_delay_ms": 200},
}


def three_budgets(
    env: ProofEnv, connector: str, *, max_runs: int = 6, runs_allowed: tuple[int, ...] = (3,)
) -> ScenarioResult:
    """Scheduled runs with a budget a third of the backlog, until one completes: three of them.

    The budget is wall-clock time, so on a machine busy with other work a run reads less
    than a third; ``runs_allowed`` lets a fast check accept one run more (every run before
    the last must still stop at its budget having committed a prefix).
    """
    setup = BUDGET_SETUPS[connector]
    _run_settings(
        env, connector, time_budget_seconds=setup["budget"], checkpoint_every_seconds=3600.0, **ONE_BY_ONE
    )
    if connector == "codat_pull_files":
        _one_codat_company(env)
        env.set_variants(upload_delay_ms=setup["upload_delay_ms"], slow_upload_rate=1.0)
    else:
        env.settings[connector]["config"]["connect_page_size"] = setup["page_size"]
        # sized for one reader: parallel windows would read the backlog in fewer budgets
        env.settings[connector]["config"]["connect_parallel_windows"] = 1
        env.connect.set_faults(slow_rate=1.0, slow_ms=setup["connect_slow_ms"], seed=3)
    outcomes = Outcomes()
    runs: list[dict[str, Any]] = []
    for _ in range(max_runs):
        record = env.run(connector, label="budget", timeout=30)
        outcomes.add(record)
        summary = _summaries(record.report.result)[0] if record.ok else {}
        runs.append(summary)
        if not record.ok or summary.get("outcome") != "partial":
            break
    env.clear_faults()
    env.set_variants(upload_delay_ms=0)
    problems: list[str] = []
    if len(runs) not in runs_allowed:
        expected = " or ".join(map(str, runs_allowed))
        budget = setup["budget"]
        problems.append(f"the backlog drained in {len(runs)} runs, not {expected} (budget {budget}s)")
    for number, summary in enumerate(runs[:-1], 1):
        note = " ".join(summary.get("notes") or [])
        if "stopped by the time budget" not in note:
            problems.append(f"run {number} stopped without saying it was the budget: {note or '-'}")
        before, after = summary.get("cursor_before"), summary.get("cursor_after")
        if not after or (before and parse_timestamp(after) <= parse_timestamp(before)):
            problems.append(
                f"run {number} stopped at its budget without committing a prefix ({before} -> {after})"
            )
    if runs and runs[-1].get("outcome") != "completed":
        problems.append(f"the last run ended {runs[-1].get('outcome') or 'failed'}")
    notes = [
        f"run {n}: {s.get('outcome', 'failed')}, read {s.get('items_read', 0)}, "
        f"cursor {s.get('cursor_before') or '-'} -> {s.get('cursor_after') or '-'}, "
        f"{s.get('duration_seconds', 0):.1f}s"
        for n, s in enumerate(runs, 1)
    ]
    return ScenarioResult(
        f"backlog of three budgets, {connector} (budget {setup['budget']}s)",
        compare(env, [connector]),
        check_writers(env.write_log(), TTL, _run_tokens(env)),
        outcomes,
        notes=notes,
        problems=problems,
    )


# -- Codat killed mid-backlog ---------------------------------------------------------------------


def codat_killed_mid_backlog(env: ProofEnv, *, kill_after: int = 14) -> ScenarioResult:
    """SIGKILL the Codat pull after ``kill_after`` uploads; it stored a cursor per finished day."""
    connector = "codat_pull_files"
    _one_codat_company(env)
    _run_settings(env, connector, checkpoint_every_seconds=0.05, **ONE_BY_ONE)  # every finished day is due
    env.set_variants(upload_delay_ms=120, slow_upload_rate=1.0)
    outcomes = Outcomes()
    start = env.counters().get("source_documents_created", 0)
    proc, child_token = _child(env, connector, env.settings[connector])
    _wait_documents(env, proc, start + kill_after)
    killed = proc.poll() is None
    if killed:
        os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=60)
    _child_log(env, proc)
    written = env.counters().get("source_documents_created", 0) - start
    mine = [e for e in env.write_log() if e["token"] == child_token]
    commits = [e for e in mine if e["kind"] == "delta_cursor"]
    last_commit = commits[-1]["pk"] if commits else 0
    past_cursor = sum(1 for e in mine if e["kind"] == "source_document" and e["pk"] > last_commit)
    env.set_variants(upload_delay_ms=0)
    time.sleep(TTL.total_seconds() + 0.5)  # the killed run's lease lapses
    rerun = env.run(connector, label="after kill", timeout=30)
    outcomes.add(rerun)
    company = ((rerun.report.result or {}).get("companies") or {}).get(CODAT_COMPANY, {}) if rerun.ok else {}
    repeated = int(((company.get("sinks") or {}).get("source_documents") or {}).get("already_present", 0))
    uploaded = int(company.get("uploaded", 0))
    problems = []
    if not killed:
        problems.append("the child finished before it could be killed")
    if len(commits) < 2:
        problems.append(f"the killed run stored its cursor {len(commits)} times: no checkpoint per day")
    if past_cursor > CODAT_FILES_PER_DAY:
        problems.append(
            f"the killed run wrote {past_cursor} documents after its last stored cursor, more than one "
            f"day ({CODAT_FILES_PER_DAY} files)"
        )
    if repeated > CODAT_FILES_PER_DAY:
        problems.append(f"the rerun re-read {repeated} delivered files, more than one day's")
    return ScenarioResult(
        f"Codat pull killed mid-backlog ({DRAIN_SIZES.codat_files} files over "
        f"{DRAIN_SIZES.codat_days} days, checkpoint per finished day)",
        compare(env, [connector]),
        check_writers(env.write_log(), TTL, _run_tokens(env)),
        outcomes,
        notes=[
            f"killed after {written} uploads; it had stored its cursor {len(commits)} times and wrote "
            f"{past_cursor} documents after the last one (must be <= {CODAT_FILES_PER_DAY}, one day)",
            f"the rerun skipped {repeated} already-delivered files and uploaded {uploaded}",
        ],
        problems=problems,
    )


# -- backfill windows -----------------------------------------------------------------------------


def _admin(url: str, path: str) -> Any:
    response = httpx.get(f"{url}{path}", timeout=60)
    response.raise_for_status()
    return response.json()


def history_span(env: ProofEnv, connector: str) -> tuple[datetime, datetime]:
    """First and last cursor value of what ``connector`` reads, from the source's own records."""
    if connector == "codat_pull_files":
        files = _admin(env.codat.url, f"/_sandbox/codat/companies/{CODAT_COMPANY}/files")
        stamps = [parse_timestamp(f["uploaded"]) for f in files]
    else:
        batches = _admin(env.connect.url, "/_sandbox/connect/dump/billing_batches")
        stamps = [parse_timestamp(b["events"]["created"]["at"]) for b in batches]
    return min(stamps) - timedelta(seconds=1), max(stamps) + timedelta(seconds=1)


BACKFILL_CONNECTORS = ("connect_pull_billing_documents", "codat_pull_files")


def _together(env: ProofEnv, connector: str, jobs: Sequence[Mapping[str, str]]) -> list[RunRecord]:
    """One run of ``connector`` per job params, all started at once (a barrier)."""
    barrier = threading.Barrier(len(jobs))
    records: list[RunRecord | None] = [None] * len(jobs)
    tokens = [env.issue_token() for _ in jobs]

    def one(i: int) -> None:
        barrier.wait()
        records[i] = env.run(connector, params=jobs[i], token=tokens[i], label="backfill", timeout=30)

    threads = [threading.Thread(target=one, args=(i,), daemon=True) for i in range(len(jobs))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    return [r for r in records if r is not None]


def _state(record: RunRecord) -> str:
    return str(_summaries(record.report.result)[0].get("outcome")) if record.ok else "failed"


def _written(record: RunRecord) -> int:
    """Documents a run uploaded (not counting those it found delivered already)."""
    result = record.report.result if isinstance(record.report.result, dict) else {}
    companies = result.get("companies")
    if isinstance(companies, dict):
        return sum(int(c.get("uploaded", 0)) for c in companies.values())
    return int(result.get("uploaded", 0))


def backfill_windows(env: ProofEnv, connector: str, *, windows: int = 4) -> ScenarioResult:
    """The planned windows as concurrent jobs beside the scheduled one, then one sequential check."""
    if connector == "codat_pull_files":
        _one_codat_company(env)
    _run_settings(env, connector)
    since, until = history_span(env, connector)
    plan = plan_windows(since, until, windows=windows)
    # The scheduled job has been live since the cut-over (its cursor is "now"): the history
    # is the backfill's alone, so any gap between the windows would show as missing.
    scheduled = {"lookback_days": "0"}
    jobs = [w.params() for w in plan] + [scheduled]
    records = _together(env, connector, jobs)
    outcomes = Outcomes()
    for record in records:
        outcomes.add(record)
    # A document stream's runs write one at a time (one lease scope for all of them): a
    # window that found the stream busy exited without writing and is run again, as its
    # one-off job would be.
    for i, job in enumerate(jobs[:-1]):
        for _ in range(8):
            if _state(records[i]) != "busy":
                break
            time.sleep(0.5)
            records[i] = env.run(connector, params=job, label="backfill again", timeout=30)
            outcomes.add(records[i])
    problems: list[str] = []
    window_states = [_state(r) for r in records[:-1]]
    if window_states != ["completed"] * len(plan):
        problems.append(f"not every window completed beside the others: {window_states}")
    by_windows = sum(_written(r) for r in records[:-1])
    sequential = env.run(connector, params={"since_override": format_cursor(since)}, label="sequential")
    outcomes.add(sequential)
    left = _written(sequential) if sequential.ok else -1
    if left != 0:
        problems.append(
            f"one sequential run over the history afterwards wrote {left} documents the windows missed"
        )
    return ScenarioResult(
        f"backfill of {connector} as {len(plan)} concurrent windows beside the scheduled job",
        compare(env, [connector]),
        check_writers(env.write_log(), TTL, _run_tokens(env)),
        outcomes,
        notes=[
            f"history {format_cursor(since)} .. {format_cursor(until)}; windows wrote {by_windows} "
            f"documents; a sequential run afterwards wrote {left}"
        ],
        problems=problems,
    )


SCENARIOS: tuple[tuple[str, Callable[[ProofEnv], ScenarioResult]], ...] = (
    ("three budgets (connect suppliers)", lambda env: three_budgets(env, "connect_pull_suppliers")),
    ("three budgets (codat pull)", lambda env: three_budgets(env, "codat_pull_files")),
    ("codat killed mid-backlog", codat_killed_mid_backlog),
    ("backfill windows (connect billing)", lambda env: backfill_windows(env, BACKFILL_CONNECTORS[0])),
    ("backfill windows (codat pull)", lambda env: backfill_windows(env, BACKFILL_CONNECTORS[1])),
)


def main(seed: int = 7, out: TextIO | None = None) -> list[ScenarioResult]:
    """Every scenario of this module, each in a fresh environment."""
    results = []
    for name, scenario in SCENARIOS:
        if out is not None:
            print(f"{name} ...", file=out, flush=True)
        with ProofEnv.start(DRAIN_SIZES, seed=seed) as env:
            results.append(scenario(env))
    return results
