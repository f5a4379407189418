"""Who held the lease when each row was written, from Nuntiq's own record, not from the runs.

The Nuntiq sandbox logs every write with the job token that made it and the server time
(``/_sandbox/nuntiq/write-log``). From the lease table's writes in that log (every claim
and heartbeat is an upsert of ``lease/<connector>/<stream>/<scope>/<run>``, every
withdrawal a delete) this module rebuilds, at each instant, which claim was the
earliest live one, applying the lease's rule independently of the package's code: a
claim is live while its latest heartbeat is within the ttl, no gap between two of its
heartbeats was longer than the ttl, and it was not deleted. Every data write
(a source document, a supplier, a delivery-ledger row, a stored cursor) must come from a
token whose claim held a lease at that instant; any other is a *write by a non-holder*.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from itertools import pairwise
from typing import Any

from adapters.cursor import parse_timestamp

LEASE_KIND = "custom_data:adapters_run_lease"
LEASE_DELETE = "custom_data_delete:adapters_run_lease"
DATA_KINDS = ("source_document", "supplier", "custom_data:adapters_delivery_ledger", "delta_cursor")


@dataclass
class _Claim:
    token: str
    scope: str  # connector/stream/scope
    beats: list[datetime] = field(default_factory=list)
    deleted: list[datetime] = field(default_factory=list)

    @property
    def claimed(self) -> datetime:
        return self.beats[0]

    def live(self, at: datetime, ttl: timedelta) -> bool:
        if not self.beats or self.beats[0] > at:
            return False
        if any(self.beats[0] <= d <= at for d in self.deleted):
            # a withdrawn claim is gone unless it was written again after the delete
            last_delete = max(d for d in self.deleted if d <= at)
            if not any(last_delete < b <= at for b in self.beats):
                return False
        seen = [b for b in self.beats if b <= at]
        if any(later - earlier > ttl for earlier, later in pairwise(seen)):
            return False
        return at - seen[-1] <= ttl


@dataclass
class WriterReport:
    data_writes: int = 0
    by_non_holders: list[str] = field(default_factory=list)
    claims: int = 0

    @property
    def non_holder_writes(self) -> int:
        return len(self.by_non_holders)


def check_writers(
    log: Iterable[Mapping[str, Any]], ttl: timedelta, runs: Iterable[str] | None = None
) -> WriterReport:
    """Count data writes and those made by a token that held no lease at that server instant.

    ``runs``: the job tokens of connector runs; writes by other tokens (the proof's own
    source changes, e.g. documents it adds to Nuntiq for the push connector) are not
    connector writes and are left out. None: every token is a connector run.
    """
    entries = list(log)
    if runs is not None:
        wanted = set(runs)
        entries = [e for e in entries if str(e["token"]) in wanted]
    claims: dict[str, _Claim] = {}
    for entry in entries:
        kind, key = entry["kind"], str(entry["key"])
        if kind not in (LEASE_KIND, LEASE_DELETE) or not key.startswith("lease/"):
            continue
        scope = key.rpartition("/")[0]
        claim = claims.setdefault(key, _Claim(token=str(entry["token"]), scope=scope))
        at = parse_timestamp(entry["at"])
        (claim.beats if kind == LEASE_KIND else claim.deleted).append(at)
    by_scope: dict[str, list[_Claim]] = defaultdict(list)
    by_token: dict[str, list[_Claim]] = defaultdict(list)
    for claim in claims.values():
        by_scope[claim.scope].append(claim)
        by_token[claim.token].append(claim)
    report = WriterReport(claims=len(claims))

    def holds(claim: _Claim, at: datetime) -> bool:
        if not claim.live(at, ttl):
            return False
        return not any(
            other is not claim and other.claimed < claim.claimed and other.live(at, ttl)
            for other in by_scope[claim.scope]
        )

    for entry in entries:
        if entry["kind"] not in DATA_KINDS:
            continue
        report.data_writes += 1
        at = parse_timestamp(entry["at"])
        if not any(holds(claim, at) for claim in by_token.get(str(entry["token"]), [])):
            report.by_non_holders.append(
                f"{entry['kind']} {str(entry['key'])[:60]} at {entry['at']} by a run holding no lease"
            )
    return report
