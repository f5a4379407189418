"""Soak: the four connectors on a schedule while the sources change and ~10% of requests fail.

Each scheduled round runs every connector once (in :data:`~tests.proof.env.CONNECTORS`
order) with the same fault mix on every service (429 with ``Retry-After: 1``, 502, 503,
dropped connections, slow answers), then changes the sources. A run that gives up after
its retries fails through ``delta_run`` and is simply retried by the next round; those
are counted, not hidden. After the last round the faults are switched off and every
connector runs once more (the schedule's next tick, which also picks up the last
round's changes); then Nuntiq and Codat are compared with the ground truth.

Poison: after the first round a record the connectors must refuse is planted in each
Connect stream (a listing without a vendor, a billing file whose download is always
refused); the next rounds must quarantine it and deliver everything else. Before the
last round the poison is cured, and by the end every poisoned item must have landed
and been released. Codat pull poison (a refused archive member) is left to the Codat
suite until its source yields refusals.
Overlap: in every round one connector (in turn) gets a second, manual run started 0.1 s
after the scheduled one; one of the two must find the stream busy. Nuntiq's write log
then shows whether any row was written by a run that did not hold the lease.
"""

from __future__ import annotations

import random
import re
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TextIO

from lib.runner import REPO_ROOT
from tests.proof.changes import SourceChanger
from tests.proof.env import CONNECTORS, PROOF_RUN, SMALL, SOAK_FAULTS, ProofEnv, RunRecord, Sizes
from tests.proof.poison import cure_downloads, cure_listing, poison_download, poison_listing, quarantined
from tests.proof.truth import TruthReport, compare
from tests.proof.writers import WriterReport, check_writers


@dataclass
class SoakResult:
    rounds: int
    runs: list[RunRecord]
    settle_runs: list[RunRecord]
    stats: dict[str, dict[str, int]]
    truth: TruthReport
    changes: Counter[str]
    counters: dict[str, int]
    codat_uploads: int = 0
    failures: list[str] = field(default_factory=list)
    #: connector -> poisoned keys planted, quarantined before the cure, still held at the end
    poison_planted: dict[str, list[str]] = field(default_factory=dict)
    poison_quarantined: dict[str, list[str]] = field(default_factory=dict)
    poison_still_held: dict[str, list[str]] = field(default_factory=dict)

    @property
    def poison_lost(self) -> int:
        """Poisoned items still quarantined after they were cured (must be 0)."""
        return sum(len(keys) for keys in self.poison_still_held.values())
    #: second runs started beside a scheduled one (one connector per round)
    overlapping: list[RunRecord] = field(default_factory=list)
    writers: WriterReport = field(default_factory=WriterReport)

    @property
    def failed_runs(self) -> int:
        return sum(1 for r in self.runs if not r.ok)

    @property
    def settle_failed(self) -> int:
        return sum(1 for r in self.settle_runs if not r.ok)

    @property
    def requests(self) -> int:
        return sum(s.get("requests", 0) for s in self.stats.values())

    @property
    def faults(self) -> int:
        return sum(s.get("faults", 0) for s in self.stats.values())

    @property
    def retries(self) -> int:
        return sum(r.retries for r in self.runs + self.settle_runs)

    @property
    def ok(self) -> bool:
        return (
            self.truth.mismatches == 0
            and self.truth.duplicates == 0
            and self.truth.cursor_regressions == 0
            and self.poison_lost == 0
            and self.writers.non_holder_writes == 0
        )

    def lines(self) -> list[str]:
        out = [
            f"rounds                : {self.rounds} (each runs {len(CONNECTORS)} connectors)",
            f"runs                  : {len(self.runs)}",
            f"failed runs           : {self.failed_runs} (retried by the next round)",
            f"settle runs           : {len(self.settle_runs)} after faults off, {self.settle_failed} failed",
            f"requests              : {self.requests} ("
            + ", ".join(f"{k} {v.get('requests', 0)}" for k, v in self.stats.items())
            + ")",
            f"faults injected       : {self.faults} ("
            + ", ".join(
                f"{k}: " + " ".join(f"{n[6:]}={c}" for n, c in sorted(v.items()) if n.startswith("fault_"))
                for k, v in self.stats.items()
            )
            + f"; slow answers {sum(s.get('slow', 0) for s in self.stats.values())})",
            f"retries (log warnings): {self.retries}",
            f"records               : {self.counters.get('suppliers_written', 0)} supplier rows written",
            f"documents             : {self.counters.get('source_documents_created', 0)} Nuntiq "
            f"source documents, {self.codat_uploads} files uploaded to Codat",
            "source changes        : " + ", ".join(f"{k} {v}" for k, v in sorted(self.changes.items())),
            f"ground truth          : {self.truth.summary()}",
            f"mismatches            : {self.truth.mismatches}",
            f"duplicates            : {self.truth.duplicates}",
            f"cursor regressions    : {self.truth.cursor_regressions}",
            "poison                : "
            + (
                "; ".join(
                    f"{c}: planted {len(k)}, quarantined {len(self.poison_quarantined.get(c, []))}, "
                    f"held after the cure {len(self.poison_still_held.get(c, []))}"
                    for c, k in self.poison_planted.items()
                )
                or "none planted"
            ),
            f"poison held after cure: {self.poison_lost}",
            f"overlapping runs      : {len(self.overlapping)} started beside a scheduled run, "
            f"{sum(1 for r in self.overlapping if r.busy)} found the stream busy, "
            f"{sum(1 for r in self.overlapping if not r.ok)} failed",
            f"writes by non-holders : {self.writers.non_holder_writes} of {self.writers.data_writes} "
            "data writes (from Nuntiq's write log)",
        ]
        out += [f"  {finding}" for finding in self.truth.findings[:40]]
        causes = failure_causes(self.runs)
        if causes:
            out.append("failed runs by site  :")
            out += [f"  {n:>3}  {site}" for site, n in causes.most_common()]
        return out


_FRAME = re.compile(r'File "([^"]+)", line \d+, in (\S+)')
_PLUMBING = ("lib/api_client.py", "site-packages", "/lib/python3", "adapters/retry.py")


def failure_site(trace: str | None) -> str:
    """The innermost project frame of a failed run (below the HTTP plumbing): where it gave up."""
    site = "?"
    for path, function in _FRAME.findall(trace or ""):
        if str(REPO_ROOT) in path and not any(p in path for p in _PLUMBING):
            site = f"{path.replace(str(REPO_ROOT) + '/', '')}:{function}"
    return site


def failure_causes(records: list[RunRecord]) -> Counter[str]:
    """Failed runs by where they gave up and the error's type."""
    causes: Counter[str] = Counter()
    for record in records:
        if not record.ok:
            kind = (record.report.error or "?").split(":", 1)[0]
            causes[f"{failure_site(record.report.error_trace)} ({kind})"] += 1
    return causes


def run_soak(
    env: ProofEnv,
    *,
    rounds: int = 20,
    seed: int = 7,
    faults: dict[str, object] | None = None,
    out: TextIO | None = None,
) -> SoakResult:
    rng = random.Random(seed)
    changer = SourceChanger(env, rng)
    plan = dict(SOAK_FAULTS if faults is None else faults)
    records: list[RunRecord] = []
    settle: list[RunRecord] = []
    failures: list[str] = []
    env.reset_stats()
    planted: dict[str, list[str]] = {}
    kept: dict[str, list[str]] = {}
    cure_after = max(1, rounds - 1)  # the last round and the settle runs see the cured data
    overlapping: list[RunRecord] = []
    for number in range(1, rounds + 1):
        env.set_faults(plan, seed=seed * 1000 + number)
        for connector in CONNECTORS:
            if connector == CONNECTORS[number % len(CONNECTORS)]:
                # a manual run started beside the scheduled one: one of them must yield
                record, extra = _beside(env, connector, label=f"round {number}")
                overlapping.append(extra)
            else:
                record = env.run(connector, label=f"round {number}")
            records.append(record)
            if not record.ok:
                failures.append(f"round {number} {connector}: {record.report.error}")
        if out is not None:
            states = " ".join("ok" if r.ok else "FAIL" for r in records[-len(CONNECTORS) :])
            print(f"round {number:>3}/{rounds}: {states}", file=out, flush=True)
        env.clear_faults()  # admin changes never see faults; the next round sets them again
        if number == cure_after and planted:
            kept = _cure(env, planted)
        changer.round()
        if number == 1:
            planted = _plant(env, seed)
    if planted and not kept:
        kept = _cure(env, planted)
    env.clear_faults()
    stats = env.stats()
    for connector in CONNECTORS:
        settle.append(env.run_until_ok(connector))
    truth = compare(env)
    still = {c: sorted(set(keys) & set(quarantined(env, c))) for c, keys in planted.items()}
    tokens = {r.token for r in records + settle + overlapping}
    writers = check_writers(env.write_log(), timedelta(seconds=PROOF_RUN["lease_ttl_seconds"]), tokens)
    uploads = len(_uploads(env))
    return SoakResult(
        rounds=rounds,
        runs=records,
        settle_runs=settle,
        stats=stats,
        truth=truth,
        changes=changer.done,
        counters=env.counters(),
        codat_uploads=uploads,
        failures=failures,
        poison_planted=planted,
        poison_quarantined=kept,
        poison_still_held=still,
        overlapping=overlapping,
        writers=writers,
    )


SUPPLIERS = "connect_pull_suppliers"
BILLING = "connect_pull_billing_documents"


def _plant(env: ProofEnv, seed: int) -> dict[str, list[str]]:
    """One poisoned item per Connect stream, planted between rounds."""
    planted: dict[str, list[str]] = {}
    if SUPPLIERS in CONNECTORS:
        planted[SUPPLIERS] = [poison_listing(env, f"LST-666-{seed % 1000:03d}-001")]
    if BILLING in CONNECTORS:
        planted[BILLING] = poison_download(env)
    return planted


def _cure(env: ProofEnv, planted: dict[str, list[str]]) -> dict[str, list[str]]:
    """Note which poisoned items the connectors quarantined, then fix them at the source."""
    kept = {c: sorted(set(keys) & set(quarantined(env, c))) for c, keys in planted.items()}
    for key in planted.get(SUPPLIERS, []):
        cure_listing(env, key)
    cure_downloads(env)
    return kept


def _beside(env: ProofEnv, connector: str, *, label: str) -> tuple[RunRecord, RunRecord]:
    """The scheduled run and a second one started 0.1 s later, in threads."""
    results: dict[str, RunRecord] = {}
    tokens = {"scheduled": env.issue_token(), "extra": env.issue_token()}

    def go(which: str, delay: float) -> None:
        time.sleep(delay)
        results[which] = env.run(connector, token=tokens[which], label=f"{label} ({which})")

    threads = [
        threading.Thread(target=go, args=("scheduled", 0.0), daemon=True),
        threading.Thread(target=go, args=("extra", 0.1), daemon=True),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    return results["scheduled"], results["extra"]


def _uploads(env: ProofEnv) -> list[dict[str, object]]:
    import httpx

    response = httpx.get(f"{env.codat.url}/_sandbox/codat/uploads", timeout=30)
    response.raise_for_status()
    files: list[dict[str, object]] = response.json()["files"]
    return files


def main(
    rounds: int = 20, seed: int = 7, sizes: Sizes = SMALL, out: TextIO | None = None
) -> tuple[int, SoakResult]:
    with ProofEnv.start(sizes, seed=seed) as env:
        result = run_soak(env, rounds=rounds, seed=seed, out=out)
    return (0 if result.ok else 1), result
