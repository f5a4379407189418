"""Crash: connectors run as child processes and are SIGKILLed at random points.

Each connector first runs once to completion as a child (``python -m lib.cli run
... --api-url ... --token ...``), which also measures how long its work takes (from the
moment its first delta run starts, so interpreter start-up is not counted). Then
``runs`` children are started round-robin over the four connectors; each is killed a
seeded random share (0-110%) of that work time (as last measured) after its first
delta run started (some finish first; those are counted apart), so kills land anywhere
in the work itself. The
sources change between some runs. Afterwards every connector reruns to completion and
Nuntiq and Codat are compared with the ground truth: a kill at any instant must leave
nothing a rerun cannot repair, and no duplicate.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import TextIO

import httpx

from lib.runner import REPO_ROOT
from tests.proof.changes import SourceChanger
from tests.proof.env import CONNECTORS, PROOF_RUN, SMALL, ProofEnv, Sizes
from tests.proof.truth import TruthReport, compare


@dataclass
class ChildRun:
    connector: str
    seconds: float
    killed: bool
    returncode: int | None
    log: str
    #: seconds from spawn until its first delta run started (None: it never started one)
    started_work: float | None = None
    #: Nuntiq writes (documents, custom-data rows, suppliers) the run made before it ended
    writes: int = 0


@dataclass
class CrashResult:
    runs: list[ChildRun]
    baseline: dict[str, float]
    reruns: dict[str, bool]
    truth: TruthReport
    changes: Counter[str] = field(default_factory=Counter)

    @property
    def kills(self) -> int:
        return sum(1 for r in self.runs if r.killed)

    @property
    def ok(self) -> bool:
        return (
            self.truth.mismatches == 0
            and self.truth.duplicates == 0
            and self.truth.cursor_regressions == 0
            and all(self.reruns.values())
        )

    def lines(self) -> list[str]:
        per = Counter(r.connector for r in self.runs if r.killed)
        out = [
            f"child runs            : {len(self.runs)}",
            f"kills (SIGKILL)       : {self.kills} ("
            + ", ".join(f"{k} {v}" for k, v in sorted(per.items()))
            + ")",
            f"kills after a write   : {sum(1 for r in self.runs if r.killed and r.writes)} "
            "(the killed run had already written to Nuntiq)",
            f"finished before kill  : {len(self.runs) - self.kills}",
            "work seconds (base)   : " + ", ".join(f"{k} {v:.2f}" for k, v in self.baseline.items()),
            "source changes        : " + ", ".join(f"{k} {v}" for k, v in sorted(self.changes.items())),
            "reruns to completion  : "
            + ", ".join(f"{k} {'ok' if v else 'FAILED'}" for k, v in self.reruns.items()),
            f"ground truth          : {self.truth.summary()}",
            f"mismatches            : {self.truth.mismatches}",
            f"duplicates            : {self.truth.duplicates}",
            f"cursor regressions    : {self.truth.cursor_regressions}",
        ]
        out += [f"  {finding}" for finding in self.truth.findings[:40]]
        return out


def _child(env: ProofEnv, connector: str) -> subprocess.Popen[str]:
    settings = env.write_settings(connector)
    log = open(env.workdir / f"child-{len(env.extra_texts):04d}-{connector}.log", "w+", encoding="utf-8")  # noqa: SIM115
    cmd = [
        sys.executable,
        "-m",
        "lib.cli",
        "run",
        connector,
        "--settings",
        str(settings),
        "--api-url",
        env.nuntiq.url,
        "--token",
        env.issue_token(),
        "--log-format",
        "json",
    ]
    env_vars = dict(os.environ, PYTHONUNBUFFERED="1")
    proc = subprocess.Popen(cmd, cwd=REPO_ROOT, stdout=log, stderr=subprocess.STDOUT, text=True, env=env_vars)
    proc.log_file = log  # type: ignore[attr-defined]
    return proc


def _finish(
    env: ProofEnv, proc: subprocess.Popen[str], connector: str, started: float, killed: bool
) -> ChildRun:
    returncode = proc.wait()
    log_file: TextIO = proc.log_file  # type: ignore[attr-defined]
    log_file.seek(0)
    text = log_file.read()
    log_file.close()
    env.extra_texts.append((f"crash child {connector} (pid {proc.pid})", text))
    return ChildRun(connector, time.monotonic() - started, killed, returncode, text)


WRITE_KINDS = ("source_documents_created", "custom_data_rows_written", "suppliers_written")


class _Counters:
    """Reads the Nuntiq write counters over one kept-alive connection (polled often)."""

    def __init__(self, env: ProofEnv) -> None:
        self.client = httpx.Client(base_url=env.nuntiq.url, timeout=30)
        self.customer = env.customer

    def read(self) -> dict[str, int]:
        response = self.client.get("/_sandbox/nuntiq/counters", params={"customer_number": self.customer})
        response.raise_for_status()
        result: dict[str, int] = response.json()
        return result

    def close(self) -> None:
        self.client.close()


def run_child(
    env: ProofEnv, connector: str, counters: _Counters, kill_after_work: float | None = None
) -> ChildRun:
    """Run one child; with ``kill_after_work`` SIGKILL it that long after its first delta run began."""
    before = counters.read()
    started = time.monotonic()
    proc = _child(env, connector)
    killed = False
    started_work: float | None = None
    while proc.poll() is None:
        if counters.read().get("delta_runs_started", 0) > before.get("delta_runs_started", 0):
            started_work = time.monotonic() - started
            break
        time.sleep(0.005)
    if kill_after_work is None or started_work is None:
        proc.wait()
    else:
        deadline = started + started_work + kill_after_work
        while proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.002)
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
            killed = True
    run = _finish(env, proc, connector, started, killed)
    after = counters.read()
    run.started_work = started_work
    run.writes = sum(after.get(k, 0) - before.get(k, 0) for k in WRITE_KINDS)
    return run


def run_crash(env: ProofEnv, *, runs: int = 50, seed: int = 13, out: TextIO | None = None) -> CrashResult:
    rng = random.Random(seed)
    changer = SourceChanger(env, random.Random(seed + 1))
    counters = _Counters(env)
    try:
        baseline: dict[str, float] = {}
        for connector in CONNECTORS:
            child = run_child(env, connector, counters)
            if child.returncode != 0:
                raise RuntimeError(f"baseline run of {connector} failed:\n{child.log[-2000:]}")
            baseline[connector] = child.seconds - (child.started_work or 0.0)
        work = dict(baseline)
        changer.round()
        children: list[ChildRun] = []
        for number in range(runs):
            connector = CONNECTORS[number % len(CONNECTORS)]
            delay = rng.uniform(0.0, 1.1) * work[connector]
            child = run_child(env, connector, counters, kill_after_work=delay)
            children.append(child)
            if not child.killed and child.returncode == 0 and child.started_work is not None:
                # incremental runs do less than the first full one: aim at the latest measure
                work[connector] = child.seconds - child.started_work
            if out is not None:
                state = "killed" if child.killed else f"finished (exit {child.returncode})"
                print(
                    f"run {number + 1:>3}/{runs} {connector:<32} {delay:5.2f}s into its work: {state}, "
                    f"{child.writes} Nuntiq writes",
                    file=out,
                    flush=True,
                )
            if rng.random() < 0.3:
                changer.round()
        reruns: dict[str, bool] = {}
        time.sleep(PROOF_RUN["lease_ttl_seconds"] + 0.5)  # the killed runs' leases lapse
        for connector in CONNECTORS:
            ok = False
            for _ in range(3):
                if run_child(env, connector, counters).returncode == 0:
                    ok = True
                    break
            reruns[connector] = ok
    finally:
        counters.close()
    truth = compare(env)
    return CrashResult(children, baseline, reruns, truth, changer.done)


def main(
    runs: int = 50, seed: int = 13, sizes: Sizes = SMALL, out: TextIO | None = None
) -> tuple[int, CrashResult]:
    with ProofEnv.start(sizes, seed=seed) as env:
        result = run_crash(env, runs=runs, seed=seed, out=out)
    return (0 if result.ok else 1), result
