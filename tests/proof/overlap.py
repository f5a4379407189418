"""Overlap: runs of one connector started together, staggered, paused, killed, on skewed clocks.

What it does (every figure is counted from Nuntiq's and the sources' own records):

* **rounds**: per round and connector, two or three runs start together (a barrier) or
  staggered, while ~25% of uploads are slower than the client's timeout and Connect
  answers slowly; the sources change between rounds. Afterwards the ground truth
  (:mod:`tests.proof.truth`) gives duplicates, missing items and cursor regressions,
  and the write log (:mod:`tests.proof.writers`) the writes made by a run that did
  not hold the lease at that instant;
* **schedule shorter than the run**: a run is started every 0.4 s while each takes
  seconds; the later ones must find the stream busy and the cursor must still move;
* **paused holder**: a child process is SIGSTOPped mid-run for longer than the lease
  ttl, another run takes over and finishes, the child is resumed: it must write nothing;
* **fail at 90%**: a child is SIGKILLed once 90% of an ordered backlog is written; the
  rerun must repeat at most one checkpoint interval;
* **clock skew**: Nuntiq's clock is set off the host's (±15 min, ±1 h, ±1 day) while
  slow uploads force reconciliations: no duplicate, nothing missing;
* each delta-start variant (``abandon``, ``refuse``, ``allow``) gets its share of rounds.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, TextIO

from lib.runner import REPO_ROOT
from tests.proof.changes import SourceChanger
from tests.proof.env import CONNECTORS, SMALL, ProofEnv, RunRecord, Sizes
from tests.proof.truth import TruthReport, compare
from tests.proof.writers import WriterReport, check_writers

#: ``config.run`` of the overlap suite: a lease lapses 6 s after its holder's last sign of
#: life; Nuntiq is assumed to finish or drop a write within 2 s
OVERLAP_RUN: dict[str, float] = {
    "lease_ttl_seconds": 6.0,
    "upload_deadline_seconds": 2.0,
    "checkpoint_every_seconds": 1.0,
}
TTL = timedelta(seconds=OVERLAP_RUN["lease_ttl_seconds"])
#: slow uploads: a quarter take 1.3 s, longer than the 1 s client timeout, inside the 2 s deadline
SLOW_UPLOADS: dict[str, Any] = {
    "upload_delay_ms": 1300,
    "slow_upload_rate": 0.25,
    "write_deadline_seconds": 2.0,
}
CLIENT_TIMEOUT = 1.0
SLOW_SOURCES: dict[str, Any] = {"slow_rate": 0.2, "slow_ms": 120}
DELTA_STARTS = ("abandon", "refuse", "allow")
SKEWS = (
    ("+15 min", 900),
    ("-15 min", -900),
    ("+1 h", 3600),
    ("-1 h", -3600),
    ("+1 day", 86400),
    ("-1 day", -86400),
)


@dataclass
class Outcomes:
    """How the runs of one scenario ended."""

    counts: Counter[str] = field(default_factory=Counter)

    def add(self, record: RunRecord) -> None:
        if not record.ok:
            self.counts["failed"] += 1
            return
        for summary in _summaries(record.report.result):
            self.counts[str(summary.get("outcome", "completed"))] += 1

    def text(self) -> str:
        return ", ".join(f"{k} {v}" for k, v in sorted(self.counts.items())) or "none"


def _summaries(result: Any) -> list[dict[str, Any]]:
    """Every sync summary in a connector's result (the Codat pull has one per company)."""
    if not isinstance(result, dict):
        return []
    if isinstance(result.get("companies"), dict):
        return [s for s in result["companies"].values() if isinstance(s, dict)]
    return [result] if "outcome" in result else []


@dataclass
class ScenarioResult:
    name: str
    truth: TruthReport
    writers: WriterReport
    outcomes: Outcomes
    notes: list[str] = field(default_factory=list)
    #: scenario-specific must-be-zero figures
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.truth.clean and self.writers.non_holder_writes == 0 and not self.problems

    def lines(self) -> list[str]:
        out = [
            f"{self.name}:",
            f"  runs                : {self.outcomes.text()}",
            f"  ground truth        : {self.truth.summary()}",
            f"  writes              : {self.writers.data_writes} data writes, "
            f"{self.writers.claims} lease claims; by non-holders {self.writers.non_holder_writes}",
        ]
        out += [f"  {note}" for note in self.notes]
        out += [f"  PROBLEM {p}" for p in self.problems]
        out += [f"  {finding}" for finding in self.truth.findings[:20]]
        out += [f"  {w}" for w in self.writers.by_non_holders[:20]]
        return out


@dataclass
class OverlapResult:
    scenarios: list[ScenarioResult]

    @property
    def ok(self) -> bool:
        return all(s.ok for s in self.scenarios)

    def lines(self) -> list[str]:
        out: list[str] = []
        for scenario in self.scenarios:
            out += scenario.lines()
        dup = sum(s.truth.duplicates for s in self.scenarios)
        missing = sum(s.truth.mismatches for s in self.scenarios)
        regress = sum(s.truth.cursor_regressions for s in self.scenarios)
        strangers = sum(s.writers.non_holder_writes for s in self.scenarios)
        problems = sum(len(s.problems) for s in self.scenarios)
        out += [
            "total:",
            f"  duplicates          : {dup}",
            f"  missing             : {missing}",
            f"  cursor regressions  : {regress}",
            f"  writes by non-holders: {strangers}",
            f"  other problems      : {problems}",
        ]
        return out


def _configure(env: ProofEnv, run_settings: dict[str, float] | None = None) -> None:
    for connector in CONNECTORS:
        env.settings[connector]["config"]["run"] = dict(run_settings or OVERLAP_RUN)


def _concurrent(
    env: ProofEnv, connector: str, count: int, *, stagger: Sequence[float], label: str
) -> list[RunRecord]:
    """``count`` runs of ``connector`` in threads; run i starts ``stagger[i]`` s after the barrier."""
    barrier = threading.Barrier(count)
    records: list[RunRecord | None] = [None] * count
    tokens = [env.issue_token() for _ in range(count)]

    def one(i: int) -> None:
        barrier.wait()
        if stagger[i]:
            time.sleep(stagger[i])
        records[i] = env.run(connector, token=tokens[i], label=label, timeout=CLIENT_TIMEOUT)

    threads = [threading.Thread(target=one, args=(i,), daemon=True) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    return [r for r in records if r is not None]


def _run_tokens(env: ProofEnv) -> set[str]:
    """Job tokens of every connector run so far (in-process runs and child processes)."""
    return {r.token for r in env.runs} | set(env.child_tokens)


def _settle(env: ProofEnv, outcomes: Outcomes, connectors: Sequence[str] = CONNECTORS) -> None:
    """Faults and slowness off; each connector once more until it is neither failed nor busy."""
    env.clear_faults()
    env.set_variants(upload_delay_ms=0)
    for connector in connectors:
        for _ in range(8):
            record = env.run(connector, label="settle")
            states = {str(s.get("outcome")) for s in _summaries(record.report.result)}
            if record.ok and "busy" not in states:
                break
            time.sleep(TTL.total_seconds() / 3)
        outcomes.add(record)


def run_rounds(
    env: ProofEnv,
    *,
    rounds: int,
    seed: int,
    connectors: Sequence[str] = CONNECTORS,
    out: TextIO | None = None,
) -> ScenarioResult:
    """``rounds`` rounds of 2-3 overlapping runs per connector, across the delta-start variants."""
    rng = random.Random(seed)
    changer = SourceChanger(env, rng)
    outcomes = Outcomes()
    _configure(env)
    starts: Counter[str] = Counter()
    for number in range(1, rounds + 1):
        delta_start = DELTA_STARTS[(number - 1) % len(DELTA_STARTS)]
        starts[delta_start] += 1
        env.set_variants(delta_start=delta_start, stale_run_seconds=TTL.total_seconds(), **SLOW_UPLOADS)
        env.connect.set_faults(**SLOW_SOURCES, seed=seed * 100 + number)
        for connector in connectors:
            count = 2 + (number + len(connector)) % 2
            together = rng.random() < 0.5
            stagger = [0.0] * count if together else [i * rng.uniform(0.05, 0.6) for i in range(count)]
            for record in _concurrent(env, connector, count, stagger=stagger, label=f"round {number}"):
                outcomes.add(record)
        if out is not None:
            print(f"round {number:>3}/{rounds} ({delta_start}): {outcomes.text()}", file=out, flush=True)
        env.connect.set_faults()
        changer.round()
    _settle(env, outcomes, connectors)
    env.set_variants(delta_start="abandon", **{**SLOW_UPLOADS, "upload_delay_ms": 0})
    result = ScenarioResult(
        f"overlapping runs ({rounds} rounds x {len(connectors)} connectors, 2-3 runs each)",
        compare(env, connectors),
        check_writers(env.write_log(), TTL, _run_tokens(env)),
        outcomes,
        notes=["delta-start variants: " + ", ".join(f"{k} {v} rounds" for k, v in sorted(starts.items()))],
    )
    return result


def schedule_shorter_than_run(env: ProofEnv, *, seconds: float = 6.0, every: float = 0.4) -> ScenarioResult:
    """The billing connector started every ``every`` s for ``seconds`` s while each run takes longer."""
    connector = "connect_pull_billing_documents"
    _configure(env)
    outcomes = Outcomes()
    before = _cursor(env, connector)
    for _ in range(3):  # a backlog to work on
        SourceChanger(env, random.Random(5)).connect()
    # each upload of the backlog takes 1 s, so the first run is still busy at the next starts
    # (at 300 ms a run that sent its few uploads together could end before the next start)
    env.set_variants(upload_delay_ms=1000, slow_upload_rate=1.0, write_deadline_seconds=2.0)
    threads: list[threading.Thread] = []
    records: list[RunRecord] = []
    started = time.monotonic()
    while time.monotonic() - started < seconds:
        thread = threading.Thread(
            target=lambda: records.append(env.run(connector, label="schedule", timeout=CLIENT_TIMEOUT)),
            daemon=True,
        )
        thread.start()
        threads.append(thread)
        time.sleep(every)
    for thread in threads:
        thread.join(timeout=300)
    for record in records:
        outcomes.add(record)
    env.set_variants(upload_delay_ms=0)
    _settle(env, outcomes, [connector])
    after = _cursor(env, connector)
    problems = []
    if outcomes.counts["busy"] == 0:
        problems.append("no run found the stream busy: the runs did not overlap")
    if outcomes.counts["failed"]:
        problems.append(f"{outcomes.counts['failed']} runs failed")
    if before == after:
        problems.append("the stored cursor never moved")
    return ScenarioResult(
        f"schedule shorter than the run ({len(records)} starts, one every {every:g}s)",
        compare(env, [connector]),
        check_writers(env.write_log(), TTL, _run_tokens(env)),
        outcomes,
        notes=[f"cursor {before or '-'} -> {after or '-'}"],
        problems=problems,
    )


def _cursor(env: ProofEnv, connector: str) -> str | None:
    from lib.delta import get_delta_state

    api = env.api()
    try:
        name = env.settings[connector]["config"]["connector_name"]
        state = get_delta_state(api, name, "billing_batch_files")
    finally:
        api.close()
    return state.get("cursor") if state else None


def _child(env: ProofEnv, connector: str, settings: dict[str, Any]) -> tuple[subprocess.Popen[str], str]:
    path = env.write_settings(f"{connector}-child", settings)
    token = env.issue_token()
    env.child_tokens.append(token)
    log = open(env.workdir / f"overlap-child-{token[-6:]}.log", "w+", encoding="utf-8")  # noqa: SIM115
    cmd = [sys.executable, "-m", "lib.cli", "run", connector, "--settings", str(path),
           "--api-url", env.nuntiq.url, "--token", token, "--log-format", "json"]  # fmt: skip
    proc = subprocess.Popen(cmd, cwd=REPO_ROOT, stdout=log, stderr=subprocess.STDOUT, text=True,
                            env=dict(os.environ, PYTHONUNBUFFERED="1"))  # fmt: skip
    proc.log_file = log  # type: ignore[attr-defined]
    return proc, token


def _wait_documents(env: ProofEnv, proc: subprocess.Popen[str], target: int, limit: float = 60) -> bool:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline and proc.poll() is None:
        if env.counters().get("source_documents_created", 0) >= target:
            return True
        time.sleep(0.02)
    return False


def _child_log(env: ProofEnv, proc: subprocess.Popen[str]) -> str:
    log: TextIO = proc.log_file  # type: ignore[attr-defined]
    log.seek(0)
    text = log.read()
    log.close()
    env.extra_texts.append((f"overlap child (pid {proc.pid})", text))
    return text


def paused_holder(env: ProofEnv) -> ScenarioResult:
    """SIGSTOP a holder mid-run past the ttl, let another run take over, SIGCONT it: it writes nothing."""
    connector = "connect_pull_billing_documents"
    _configure(env)
    for _ in range(3):
        SourceChanger(env, random.Random(9)).connect()
    env.set_variants(upload_delay_ms=250, slow_upload_rate=1.0, write_deadline_seconds=2.0)
    outcomes = Outcomes()
    start = env.counters().get("source_documents_created", 0)
    proc, paused_token = _child(env, connector, env.settings[connector])
    problems: list[str] = []
    notes: list[str] = []
    if not _wait_documents(env, proc, start + 2):
        problems.append("the child finished or stalled before it could be paused")
    os.kill(proc.pid, signal.SIGSTOP)
    paused_at = env.write_log()[-1]["pk"]
    time.sleep(TTL.total_seconds() + 1.5)
    taker = env.run(connector, label="takeover", timeout=CLIENT_TIMEOUT)
    outcomes.add(taker)
    resumed_from = env.write_log()[-1]["pk"]
    os.kill(proc.pid, signal.SIGCONT)
    proc.wait(timeout=120)
    text = _child_log(env, proc)
    log = env.write_log()
    data_kinds = ("source_document", "supplier", "delta_cursor", "custom_data:adapters_delivery_ledger")
    taker_first = next((e["pk"] for e in log if e["token"] == taker.token), 0)
    paused_data = [e for e in log if e["token"] == paused_token and e["kind"] in data_kinds]
    in_flight = [e for e in paused_data if paused_at < e["pk"] < taker_first]
    after_takeover = [e for e in paused_data if e["pk"] > taker_first]
    after_resume = [e for e in after_takeover if e["pk"] > resumed_from]
    notes.append(
        f"paused child exit {proc.returncode} ({'lost its lease' if 'LeaseLost' in text else 'see log'}); "
        f"its data writes: {len(in_flight)} in flight when paused (landed while it held the lease), "
        f"{len(after_takeover)} after the takeover, {len(after_resume)} after resuming"
    )
    if after_takeover:
        problems.append(f"the paused holder wrote {len(after_takeover)} rows after losing its lease")
    if "lost the lease" not in text:
        problems.append("the paused holder did not report losing its lease")
    env.set_variants(upload_delay_ms=0)
    _settle(env, outcomes, [connector])
    return ScenarioResult(
        "paused holder (SIGSTOP past the ttl, another run takes over, SIGCONT)",
        compare(env, [connector]),
        check_writers(env.write_log(), TTL, _run_tokens(env)),
        outcomes,
        notes=notes,
        problems=problems,
    )


def fail_at_90(env: ProofEnv, *, every_items: int = 3) -> ScenarioResult:
    """SIGKILL a run at 90% of an ordered backlog; the rerun repeats at most one checkpoint interval."""
    connector = "connect_pull_billing_documents"
    settings = {**OVERLAP_RUN, "checkpoint_every_items": every_items, "checkpoint_every_seconds": 3600.0}
    _configure(env, settings)
    changer = SourceChanger(env, random.Random(13))
    for _ in range(6):
        changer.connect()
    env.set_variants(upload_delay_ms=120, slow_upload_rate=1.0, write_deadline_seconds=2.0)
    outcomes = Outcomes()
    start = env.counters().get("source_documents_created", 0)
    full = _expected_backlog(env)
    target_docs = start + max(1, int(full * 0.9))
    proc, child_token = _child(env, connector, env.settings[connector])
    _wait_documents(env, proc, target_docs)
    killed = proc.poll() is None
    if killed:
        os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=60)
    _child_log(env, proc)
    written = env.counters().get("source_documents_created", 0) - start
    # from Nuntiq's record: the killed run's last stored cursor, and what it wrote after it
    mine = [e for e in env.write_log() if e["token"] == child_token]
    commits = [e for e in mine if e["kind"] == "delta_cursor"]
    last_commit = commits[-1]["pk"] if commits else 0
    past_cursor = sum(1 for e in mine if e["kind"] == "source_document" and e["pk"] > last_commit)
    time.sleep(TTL.total_seconds() + 0.5)  # the killed run's lease lapses
    env.set_variants(upload_delay_ms=0)
    rerun = env.run(connector, label="after kill", timeout=CLIENT_TIMEOUT)
    outcomes.add(rerun)
    result = rerun.report.result if rerun.ok else {}
    repeated = int(((result.get("sinks") or {}).get("source_documents") or {}).get("already_present", 0))
    uploaded = int(result.get("uploaded", 0))
    problems = []
    if not killed:
        problems.append("the child finished before it could be killed")
    if past_cursor > every_items:
        problems.append(
            f"the killed run wrote {past_cursor} documents after its last stored cursor, "
            f"more than one checkpoint interval ({every_items})"
        )
    _settle(env, outcomes, [connector])
    return ScenarioResult(
        f"fail at 90% (backlog {full} files, checkpoint every {every_items})",
        compare(env, [connector]),
        check_writers(env.write_log(), TTL, _run_tokens(env)),
        outcomes,
        notes=[
            f"killed after {written} of {full} files; it had stored its cursor {len(commits)} times and "
            f"wrote {past_cursor} documents after the last one (must be <= {every_items})",
            f"the rerun skipped {repeated} already-delivered files (those past the cursor, plus the "
            f"inclusive boundary batch and the lookback) and uploaded {uploaded}",
        ],
        problems=problems,
    )


def _expected_backlog(env: ProofEnv) -> int:
    """Billing files not yet in Nuntiq: what a full run of the billing connector would upload."""
    from collections import Counter as _Counter

    from tests.proof.truth import NuntiqView, _admin_json

    api = env.api()
    try:
        view = NuntiqView.read(api)
    finally:
        api.close()
    truth = _admin_json(env.connect.url, "/_sandbox/connect/truth")
    expected = _Counter((f["name"], f["sha256"]) for f in truth["billing_files"])
    have = view.files_from("cloudblue_connect")
    return sum(max(0, n - have.get(key, 0)) for key, n in expected.items())


def clock_skew(
    sizes: Sizes,
    seed: int,
    skews: Sequence[tuple[str, int]] = SKEWS,
    connectors: Sequence[str] = ("connect_pull_billing_documents", "codat_pull_files"),
    slow_upload_rate: float = 0.5,
) -> list[ScenarioResult]:
    """For each offset, a Nuntiq whose clock is that far off the host's; slow uploads force reconciles.

    ``slow_upload_rate`` is the share of uploads the sandbox answers too late; 1.0 makes
    sure even a tiny data set has an upload to reconcile.
    """
    results = []
    for label, offset in skews:
        with ProofEnv.start(sizes, seed=seed, nuntiq_options={"clock_offset_seconds": offset}) as env:
            _configure(env)
            env.set_variants(**{**SLOW_UPLOADS, "slow_upload_rate": slow_upload_rate})
            outcomes = Outcomes()
            for connector in connectors:
                outcomes.add(env.run(connector, label=f"skew {label}", timeout=CLIENT_TIMEOUT))
            _settle(env, outcomes, connectors)
            # the settle runs count too: a run whose slow upload failed it leaves the
            # reconcile to the next one, which is exactly the case under test
            reconciled = sum(_reconciled(r) for r in env.runs)
            results.append(
                ScenarioResult(
                    f"Nuntiq clock {label} from the host's",
                    compare(env, connectors),
                    check_writers(env.write_log(), TTL, _run_tokens(env)),
                    outcomes,
                    notes=[f"uploads reconciled after a timeout: {reconciled}"],
                )
            )
    return results


def _reconciled(record: RunRecord) -> int:
    result = record.report.result
    if not isinstance(result, dict):
        return 0
    total = int(result.get("reconciled", 0) or 0)
    for company in (result.get("companies") or {}).values():
        total += int(company.get("reconciled", 0) or 0)
    return total


def main(
    rounds: int = 20, seed: int = 7, sizes: Sizes = SMALL, out: TextIO | None = None, skews: bool = True
) -> tuple[int, OverlapResult]:
    scenarios: list[ScenarioResult] = []
    with ProofEnv.start(sizes, seed=seed) as env:
        scenarios.append(run_rounds(env, rounds=rounds, seed=seed, out=out))
    for scenario in (schedule_shorter_than_run, paused_holder, fail_at_90):
        with ProofEnv.start(sizes, seed=seed) as env:
            if out is not None:
                print(f"{scenario.__name__} ...", file=out, flush=True)
            scenarios.append(scenario(env))
    if skews:
        if out is not None:
            print("clock skew ...", file=out, flush=True)
        scenarios += clock_skew(sizes, seed)
    result = OverlapResult(scenarios)
    return (0 if result.ok else 1), result
