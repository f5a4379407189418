"""Bad input: every way a source or a setting can be wrong, and what the connectors make of it.

Each :class:`Case` plants one problem (next to a good change, so the run has real work
to do), runs the affected connector and checks the outcome:

``error``    the run fails with an error text naming the problem (and the record or
             file), and no stored cursor of the connector moved;
``accepted`` the input is unusual but valid (e.g. a zone-less time): the run succeeds;
``rejected`` the input is refused item by item, by name, and the rest is delivered;
``quarantined`` the bad item is kept in the connector's quarantine with a reason naming
             the problem, the run succeeds and delivers the rest.

Then the problem is taken away again and the connector reruns: it must succeed and its
part of the ground truth (:mod:`tests.proof.truth`) must be exact, i.e. nothing was
partially written that a rerun cannot repair; for ``quarantined`` cases the rerun must
also have landed and released the quarantined items.
"""

from __future__ import annotations

import base64
import copy
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from tests.proof.changes import SourceChanger
from tests.proof.env import CODAT_SMALL_COMPANY, CONNECTORS, ProofEnv
from tests.proof.poison import cure_downloads, poison_download, quarantined
from tests.proof.truth import compare


@dataclass
class CaseContext:
    """What a case's plant/remove steps share: the env and per-run overrides."""

    env: ProofEnv
    changer: SourceChanger
    params: dict[str, Any] = field(default_factory=dict)
    settings: dict[str, Any] | None = None
    token: str | None = None
    notes: dict[str, Any] = field(default_factory=dict)


Step = Callable[[CaseContext], None]


def _nothing(ctx: CaseContext) -> None:
    return None


@dataclass(frozen=True)
class Case:
    name: str
    connector: str
    plant: Step
    remove: Step = _nothing
    #: fragments that must all appear (case-insensitively) in the error (or, for
    #: ``rejected``, in the run's result)
    expect: tuple[str, ...] = ()
    kind: str = "error"


@dataclass
class CaseResult:
    case: str
    connector: str
    kind: str
    outcome: str
    passed_outcome: bool
    error: str
    cursor_unchanged: bool | None
    repaired: bool
    repair_detail: str = ""
    expect: tuple[str, ...] = ()

    @property
    def passed(self) -> bool:
        return self.passed_outcome and self.cursor_unchanged is not False and self.repaired


# -- helpers --------------------------------------------------------------------------------------


def _now() -> datetime:
    return datetime.now(UTC)


def _connect_ts(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%f+00:00")


def _admin(server_url: str, method: str, path: str, **kwargs: Any) -> Any:
    response = httpx.request(method, f"{server_url}{path}", timeout=60, **kwargs)
    response.raise_for_status()
    return response.json() if response.content else None


def cursors(env: ProofEnv, connector: str) -> dict[str, str | None]:
    name = env.settings[connector]["config"]["connector_name"]
    api = env.api()
    try:
        body = api.get("/v1/delta/state", params={"connector_name": name})
    finally:
        api.close()
    return {item["stream"]: item["cursor"] for item in body.get("items", [])}


# -- Connect --------------------------------------------------------------------------------------


def _faults(service: str, pattern: str, **plan: Any) -> Step:
    def plant(ctx: CaseContext) -> None:
        ctx.changer.connect()
        ctx.changer.nuntiq_document(f"fresh-{ctx.changer.serial + 1:04d}.pdf")
        ctx.changer.codat_file(CODAT_SMALL_COMPANY)
        ctx.env.servers[service].set_faults(path_pattern=pattern, **plan)

    return plant


def _clear_faults(ctx: CaseContext) -> None:
    ctx.env.clear_faults()


def _listing(ctx: CaseContext, listing_id: str, **changes: Any) -> dict[str, Any]:
    listings = _admin(ctx.env.connect.url, "GET", "/_sandbox/connect/dump/listings")
    record: dict[str, Any] = copy.deepcopy(listings[0])
    record["id"] = listing_id
    record["updated"] = _connect_ts(_now())
    record.update(changes)
    for key, value in list(record.items()):
        if value is _DROP:
            del record[key]
    ctx.notes["good_vendor"] = listings[0]["vendor"]
    return record


_DROP = object()


def _plant_listing(listing_id: str, **changes: Any) -> Step:
    return _plant_listings([listing_id], **changes)


def _plant_listings(listing_ids: list[str], **changes: Any) -> Step:
    def plant(ctx: CaseContext) -> None:
        ctx.changer.connect()
        for listing_id in listing_ids:
            record = _listing(ctx, listing_id, **changes)
            _admin(ctx.env.connect.url, "PUT", "/_sandbox/connect/raw/listings", json=record)
        ctx.notes["quarantine_keys"] = list(listing_ids)

    return plant


def _repair_listing(listing_id: str) -> Step:
    return _repair_listings([listing_id])


def _repair_listings(listing_ids: list[str]) -> Step:
    def remove(ctx: CaseContext) -> None:
        for listing_id in listing_ids:
            record = _listing(ctx, listing_id, vendor=ctx.notes["good_vendor"])
            _admin(ctx.env.connect.url, "PUT", "/_sandbox/connect/raw/listings", json=record)

    return remove


def _strict_quarantine(connector: str, step: Step, **limits: Any) -> Step:
    """``step``, run with a quarantine threshold small enough for a few planted items to pass it."""

    def plant(ctx: CaseContext) -> None:
        step(ctx)
        settings = copy.deepcopy(ctx.settings or ctx.env.settings[connector])
        settings["config"]["quarantine"] = dict(limits)
        ctx.settings = settings

    return plant


def _poison_download(ctx: CaseContext) -> None:
    """A new billing batch whose first file Connect always refuses to serve (HTTP 422)."""
    ctx.changer.connect()
    ctx.notes["quarantine_keys"] = poison_download(ctx.env)


def _cure_downloads(ctx: CaseContext) -> None:
    cure_downloads(ctx.env)


def _wrong_key(connector: str, secret_setting: str, value: str) -> Step:
    def plant(ctx: CaseContext) -> None:
        settings = copy.deepcopy(ctx.env.settings[connector])
        settings["secrets"][secret_setting] = value
        ctx.settings = settings

    return plant


def _params(**params: Any) -> Step:
    def plant(ctx: CaseContext) -> None:
        ctx.changer.connect()
        ctx.changer.codat_file(CODAT_SMALL_COMPANY)
        ctx.params.update(params)

    return plant


def _expired_token(ctx: CaseContext) -> None:
    ctx.token = "job-expired-" + "0" * 24


# -- Codat ----------------------------------------------------------------------------------------


def _zoneless_now() -> str:
    # rounded up to the next second, so it is never before a cursor taken this second
    return (_now().replace(microsecond=0) + timedelta(seconds=1)).strftime("%Y-%m-%dT%H:%M:%S")


def _codat_file(name: str, when: str | Callable[[], str] | None = None) -> Step:
    """Plant a file in the small company; ``when`` is its ``uploaded`` text (or makes it)."""

    def plant(ctx: CaseContext) -> None:
        ctx.changer.codat_file(CODAT_SMALL_COMPANY)
        uploaded = when() if callable(when) else when
        ctx.notes["file"] = (name, uploaded)
        body: dict[str, Any] = {
            "fileName": name,
            "uploaded": uploaded or _now().strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z",
            "sourceType": "Banking",
            "content_b64": base64.b64encode(f"planted {name} {uploaded}".encode()).decode(),
        }
        _admin(ctx.env.codat.url, "POST", f"/_sandbox/codat/companies/{CODAT_SMALL_COMPANY}/files", json=body)

    return plant


def _delete_codat_file(ctx: CaseContext) -> None:
    name, uploaded = ctx.notes["file"]
    params = {"fileName": name} | ({"uploaded": uploaded} if uploaded else {})
    _admin(
        ctx.env.codat.url, "DELETE", f"/_sandbox/codat/companies/{CODAT_SMALL_COMPANY}/files", params=params
    )


def _malicious(kind: str) -> Step:
    def plant(ctx: CaseContext) -> None:
        ctx.changer.codat_file(CODAT_SMALL_COMPANY)
        today = _now().strftime("%Y-%m-%d")
        _admin(
            ctx.env.codat.url,
            "POST",
            f"/_sandbox/codat/companies/{CODAT_SMALL_COMPANY}/malicious",
            json={"date": today, "kind": kind},
        )

    return plant


def _clear_malicious(ctx: CaseContext) -> None:
    _admin(ctx.env.codat.url, "DELETE", "/_sandbox/codat/malicious")


def _quota(exceeded: bool) -> Step:
    def step(ctx: CaseContext) -> None:
        if exceeded:
            ctx.changer.codat_file(CODAT_SMALL_COMPANY)
            ctx.changer.nuntiq_document(f"quota-{ctx.changer.serial + 1:04d}.pdf")
        _admin(ctx.env.codat.url, "PUT", "/_sandbox/codat/quota", json={"exceeded": exceeded})

    return step


def _refused_uploads(ctx: CaseContext) -> None:
    ctx.changer.nuntiq_document("good-alongside.pdf")
    ctx.changer.nuntiq_document("too-big.pdf", content=b"%PDF-1.4\n" + b"0" * (10 * 1024 * 1024 + 1))
    ctx.changer.nuntiq_document("script.exe", content=b"MZ not really an executable")


def _new_document_and(step: Step) -> Step:
    def plant(ctx: CaseContext) -> None:
        ctx.changer.nuntiq_document(f"pending-{ctx.changer.serial + 1:04d}.pdf")
        step(ctx)

    return plant


# -- the cases ------------------------------------------------------------------------------------

SUPPLIERS = "connect_pull_suppliers"
BILLING = "connect_pull_billing_documents"
CODAT_PULL = "codat_pull_files"
PUSH = "codat_push_documents"

CASES: list[Case] = [
    Case(
        "malformed JSON page (Connect listings)",
        SUPPLIERS,
        _faults("connect", r"/listings$", malformed_rate=1.0),
        _clear_faults,
        ("listings", "json"),
    ),
    Case(
        "listing without vendor",
        SUPPLIERS,
        _plant_listing("LST-999-000-001", vendor=_DROP),
        _repair_listing("LST-999-000-001"),
        ("LST-999-000-001", "vendor"),
        kind="quarantined",
    ),
    Case(
        "listing with vendor of wrong type",
        SUPPLIERS,
        _plant_listing("LST-999-000-002", vendor=12345),
        _repair_listing("LST-999-000-002"),
        ("LST-999-000-002", "vendor"),
        kind="quarantined",
    ),
    Case(
        "supplier the Load rejects (vendor name of 300 characters)",
        SUPPLIERS,
        _plant_listing("LST-999-000-003", vendor={"id": "VA-999-000-003", "name": "N" * 300}),
        _repair_listing("LST-999-000-003"),
        ("LST-999-000-003", "supplier_name", "255"),
        kind="quarantined",
    ),
    Case(
        "more bad listings than the quarantine threshold (systematic fault)",
        SUPPLIERS,
        _strict_quarantine(
            SUPPLIERS,
            _plant_listings(["LST-999-000-011", "LST-999-000-012", "LST-999-000-013"], vendor=_DROP),
            max_items=2,
            max_ratio=0,
        ),
        _repair_listings(["LST-999-000-011", "LST-999-000-012", "LST-999-000-013"]),
        ("3 items refused", "limit of 2", "systematic", "LST-999-000-011"),
    ),
    Case(
        "invalid since_override",
        SUPPLIERS,
        _params(since_override="last tuesday"),
        expect=("since_override", "last tuesday"),
    ),
    Case(
        "wrong Connect API key (401)",
        SUPPLIERS,
        _wrong_key(SUPPLIERS, "connect_api_key", "ApiKey SU-000-000-000:not-the-key"),
        expect=("connect_api_key",),
    ),
    Case("expired Nuntiq job token (401)", SUPPLIERS, _expired_token, expect=("401",)),
    Case(
        "malformed JSON page (Connect billing batches)",
        BILLING,
        _faults("connect", r"/billing/batches$", malformed_rate=1.0),
        _clear_faults,
        ("billing", "json"),
    ),
    Case(
        "billing file whose download is always refused (422)",
        BILLING,
        _poison_download,
        _cure_downloads,
        ("422",),
        kind="quarantined",
    ),
    Case(
        "malformed JSON list (Codat files)",
        CODAT_PULL,
        _faults("codat", r"^/companies/[^/]+/files$", malformed_rate=1.0),
        _clear_faults,
        ("json",),
    ),
    Case(
        "zone-less uploaded time (read in local_timezone)",
        CODAT_PULL,
        _codat_file("zoneless-upload.pdf", _zoneless_now),
        kind="accepted",
    ),
    Case(
        "garbage uploaded time",
        CODAT_PULL,
        _codat_file("garbage-time.pdf", "sometime last week"),
        _delete_codat_file,
        ("garbage-time.pdf", "sometime last week"),
    ),
    Case(
        "file without fileName",
        CODAT_PULL,
        _codat_file("", None),
        _delete_codat_file,
        ("fileName",),
    ),
    # A member refused for safety is rejected by name; its day's other files still land.
    Case(
        "archive with traversal name",
        CODAT_PULL,
        _malicious("traversal"),
        _clear_malicious,
        ("../", "refused"),
        kind="rejected",
    ),
    Case(
        "archive with absolute name",
        CODAT_PULL,
        _malicious("absolute"),
        _clear_malicious,
        ("/etc/evil.conf", "absolute"),
        kind="rejected",
    ),
    Case(
        "archive with a symlink",
        CODAT_PULL,
        _malicious("symlink"),
        _clear_malicious,
        ("link-to-passwd.pdf", "link"),
        kind="rejected",
    ),
    Case(
        "archive expanding hugely (zip bomb)",
        CODAT_PULL,
        _malicious("bomb"),
        _clear_malicious,
        ("zeros.csv", "compression ratio"),
        kind="rejected",
    ),
    # Unsafe as a whole: the day's files are rejected by name, later days are not blocked.
    Case(
        "archive with too many members",
        CODAT_PULL,
        _malicious("too_many"),
        _clear_malicious,
        ("members, more than the limit",),
        kind="rejected",
    ),
    Case("download that is not a zip", CODAT_PULL, _malicious("not_zip"), _clear_malicious, ("zip",)),
    Case(
        "invalid since_override",
        CODAT_PULL,
        _params(since_override="2026-13-45T99:00:00Z"),
        expect=("since_override", "2026-13-45"),
    ),
    Case(
        "wrong Codat API key (401)",
        CODAT_PULL,
        _wrong_key(CODAT_PULL, "codat_api_key", "not-the-codat-key"),
        expect=("codat_api_key",),
    ),
    Case("Codat quota exceeded (402)", CODAT_PULL, _quota(True), _quota(False), ("quota",)),
    Case(
        "malformed JSON page (Nuntiq source documents)",
        PUSH,
        _faults("nuntiq", r"^/v1/source-documents$", malformed_rate=1.0),
        _clear_faults,
        ("json",),
    ),
    Case(
        "oversized and disallowed uploads",
        PUSH,
        _refused_uploads,
        expect=("too-big.pdf", "script.exe"),
        kind="rejected",
    ),
    Case("Codat quota exceeded on upload (402)", PUSH, _quota(True), _quota(False), ("quota",)),
    Case(
        "wrong Codat API key on upload (401)",
        PUSH,
        _new_document_and(_wrong_key(PUSH, "codat_api_key", "not-the-codat-key")),
        expect=("codat_api_key",),
    ),
]


# -- running ---------------------------------------------------------------------------------------


def prepare(env: ProofEnv) -> None:
    """Bring every connector up to date once, so each case starts from stored cursors."""
    for connector in CONNECTORS:
        record = env.run_until_ok(connector)
        if not record.ok:
            raise RuntimeError(f"baseline run of {connector} failed: {record.report.error}")


def run_case(env: ProofEnv, case: Case, changer: SourceChanger) -> CaseResult:
    ctx = CaseContext(env, changer)
    before = cursors(env, case.connector)
    try:
        case.plant(ctx)
        record = env.run(
            case.connector,
            params=ctx.params or None,
            settings=ctx.settings,
            token=ctx.token,
            label=case.name,
        )
    finally:
        try:
            case.remove(ctx)
        finally:
            env.clear_faults()
    after = cursors(env, case.connector)
    error = record.report.error or ""
    result_text = json.dumps(record.report.result, default=str) if record.report.result is not None else ""
    wanted = all(fragment.lower() in error.lower() for fragment in case.expect)
    if case.kind == "error":
        passed = not record.ok and wanted
        outcome = "failed as expected" if passed else ("succeeded" if record.ok else "failed, unclear error")
        unchanged: bool | None = before == after
    elif case.kind == "quarantined":
        kept = quarantined(env, case.connector)
        keys = ctx.notes.get("quarantine_keys") or []
        reasons = " | ".join(f"{k}: {kept[k]}" for k in keys if k in kept)
        named = bool(keys) and all(k in kept for k in keys)
        passed = record.ok and named and all(f.lower() in f"{reasons}".lower() for f in case.expect)
        outcome = "quarantined by name, rest delivered" if passed else "not quarantined as expected"
        error = reasons or error
        unchanged = None
    elif case.kind == "rejected":
        passed = record.ok and all(f.lower() in result_text.lower() for f in case.expect)
        outcome = "rejected by name, rest delivered" if passed else "not rejected by name"
        error = _rejections(record.report.result) or error
        unchanged = None
    else:
        passed = record.ok
        outcome = "accepted" if passed else "failed"
        unchanged = None
    rerun = env.run(case.connector, label=f"{case.name} (rerun)")
    truth = compare(env, [case.connector])
    still_kept = sorted(set(ctx.notes.get("quarantine_keys") or []) & set(quarantined(env, case.connector)))
    repaired = rerun.ok and truth.clean and not still_kept
    detail = "" if repaired else (rerun.report.error or "; ".join(str(f) for f in truth.findings[:3]))
    if still_kept and not detail:
        detail = f"still quarantined after the fix: {', '.join(still_kept)}"
    return CaseResult(
        case.name,
        case.connector,
        case.kind,
        outcome,
        passed,
        error,
        unchanged,
        repaired,
        detail,
        case.expect,
    )


def _rejections(result: Any) -> str:
    if not isinstance(result, dict):
        return ""
    rejected = result.get("rejected") or []
    return "; ".join(f"{r.get('name')}: {r.get('reason')}" for r in rejected if isinstance(r, dict))


def run_all(env: ProofEnv, cases: Iterable[Case] = CASES, *, seed: int = 5) -> list[CaseResult]:
    import random

    prepare(env)
    changer = SourceChanger(env, random.Random(seed))
    return [run_case(env, case, changer) for case in cases]


def excerpt(text: str, fragments: tuple[str, ...], width: int) -> str:
    """``width`` characters of ``text`` around the first expected fragment (wrappers skipped)."""
    flat = " ".join(text.split())
    lowered = flat.lower()
    hits = [lowered.find(f.lower()) for f in fragments if f and lowered.find(f.lower()) >= 0]
    start = max(0, min(hits) - width // 3) if hits else 0
    cut = flat[start : start + width]
    return ("..." if start else "") + cut


def _yes(value: bool | None) -> str:
    return "n/a" if value is None else ("yes" if value else "NO")


def format_table(results: list[CaseResult], width: int = 110) -> str:
    header = ("case", "connector", "outcome", "error text (excerpt)", "cursor unchanged", "repaired")
    rows = [
        (
            r.case,
            r.connector,
            r.outcome,
            excerpt(r.error, r.expect, width),
            _yes(r.cursor_unchanged),
            _yes(r.repaired) + (f" ({r.repair_detail[:60]})" if r.repair_detail else ""),
        )
        for r in results
    ]
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    lines = [" | ".join(h.ljust(w) for h, w in zip(header, widths, strict=True))]
    lines.append("-+-".join("-" * w for w in widths))
    lines += [" | ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) for row in rows]
    return "\n".join(lines)
