"""Ground truth: does Nuntiq (and Codat, for the push) hold exactly what the sources hold?

Read the sources' own view through their admin endpoints and Nuntiq through its API,
then check, per connector:

* suppliers: every vendor seen on a Connect listing is a supplier with the partner's
  current name, active flag and headquarters street/country; no other suppliers (those
  numbered ``ACME-`` are Acme's and checked apart);
* Acme suppliers: every supplier the Acme sandbox holds is a supplier with its current
  name, active flag and address (street, city, country); no other ``ACME-`` suppliers;
* billing files: every file of every Connect billing batch is in exactly one Nuntiq
  source document marked ``source=cloudblue_connect`` (matched by file name + sha256);
* Codat files: every file of every configured Codat company is in exactly one Nuntiq
  document marked ``source=codat`` for that company (file name + sha256);
* push: every file of every Nuntiq document not from Codat that Codat accepts (type,
  size) was uploaded to the configured Codat connection exactly once (name + sha256),
  and nothing else was;
* cursors: in every stream's run history (oldest first) the committed cursors never go
  backwards, and neither do the runs' lower bounds.

A shortfall is a *mismatch*, an extra copy a *duplicate*. Read with faults switched off.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx

from adapters.cursor import parse_timestamp
from lib.api_client import ApiClient
from sandbox.codat.app import ALLOWED as CODAT_ALLOWED
from sandbox.codat.app import MAX_FILE_BYTES as CODAT_MAX_BYTES
from tests.proof.env import CONNECTORS, ProofEnv

MISMATCH_KINDS = ("missing", "mismatch", "unexpected")


@dataclass(frozen=True)
class Finding:
    kind: str  # missing | mismatch | unexpected | duplicate | cursor_regression
    scope: str
    detail: str

    def __str__(self) -> str:
        return f"{self.kind:<17} {self.scope}: {self.detail}"


@dataclass
class TruthReport:
    findings: list[Finding] = field(default_factory=list)
    checked: Counter[str] = field(default_factory=Counter)
    #: every delta run's metadata and error text (the secret scan reads them)
    delta_texts: list[tuple[str, str]] = field(default_factory=list)

    def add(self, kind: str, scope: str, detail: str) -> None:
        self.findings.append(Finding(kind, scope, detail))

    @property
    def mismatches(self) -> int:
        return sum(1 for f in self.findings if f.kind in MISMATCH_KINDS)

    @property
    def duplicates(self) -> int:
        return sum(1 for f in self.findings if f.kind == "duplicate")

    @property
    def cursor_regressions(self) -> int:
        return sum(1 for f in self.findings if f.kind == "cursor_regression")

    @property
    def clean(self) -> bool:
        return not self.findings

    def summary(self) -> str:
        parts = [f"{k} {n}" for k, n in sorted(self.checked.items())]
        return (
            f"checked: {', '.join(parts) or 'nothing'}; mismatches {self.mismatches}, "
            f"duplicates {self.duplicates}, cursor regressions {self.cursor_regressions}"
        )


# -- reading ---------------------------------------------------------------------------------


def _pages(api: ApiClient, path: str, params: Mapping[str, Any] | None = None) -> Iterator[dict[str, Any]]:
    page = 1
    while True:
        body = api.get(path, params={**(params or {}), "page": page, "limit": 1000})
        items = body.get("items", []) if isinstance(body, dict) else []
        yield from items
        if len(items) < 1000:
            return
        page += 1


def _admin_json(url: str, path: str) -> Any:
    response = httpx.get(f"{url}{path}", timeout=60)
    response.raise_for_status()
    return response.json()


@dataclass
class NuntiqView:
    suppliers: list[dict[str, Any]]
    documents: list[dict[str, Any]]
    runs: dict[tuple[str, str], list[dict[str, Any]]]

    @classmethod
    def read(cls, api: ApiClient) -> NuntiqView:
        suppliers = list(_pages(api, "/v1/supplier"))
        documents = list(_pages(api, "/v1/source-documents"))
        runs: dict[tuple[str, str], list[dict[str, Any]]] = {}
        for run in _pages(api, "/v1/delta/runs"):
            runs.setdefault((run["connector_name"], run["stream"]), []).append(run)
        for history in runs.values():
            history.reverse()  # the API lists newest first
        return cls(suppliers, documents, runs)

    def files_from(self, source: str, **properties: str) -> Counter[tuple[str, str]]:
        """(file name, sha256) of every file of documents whose properties match."""
        found: Counter[tuple[str, str]] = Counter()
        for document in self.documents:
            props = document.get("properties") or {}
            if props.get("source") != source:
                continue
            if any(str(props.get(k)) != v for k, v in properties.items()):
                continue
            for file in document.get("files") or []:
                found[(file["file_name"], file["sha256"])] += 1
        return found


def _compare_counts(
    report: TruthReport,
    scope: str,
    expected: Counter[tuple[str, str]],
    got: Counter[tuple[str, str]],
) -> None:
    for key, n in sorted(expected.items()):
        m = got.get(key, 0)
        if m < n:
            report.add("missing", scope, f"{key[0]} (sha256 {key[1][:12]}...): {m} of {n}")
        elif m > n:
            report.add("duplicate", scope, f"{key[0]} (sha256 {key[1][:12]}...): {m} copies, expected {n}")
    for key, m in sorted(got.items()):
        if key not in expected:
            report.add(
                "unexpected", scope, f"{key[0]} (sha256 {key[1][:12]}...): {m} copies, not in the source"
            )
    report.checked[scope] += sum(expected.values())


# -- per connector ------------------------------------------------------------------------------


def check_suppliers(report: TruthReport, env: ProofEnv, view: NuntiqView) -> None:
    scope = "suppliers"
    truth = _admin_json(env.connect.url, "/_sandbox/connect/truth")
    partners: dict[str, dict[str, Any]] = truth["partners"]
    by_number = _suppliers_by_number(report, scope, view, acme=False)
    for vendor_id in truth["vendor_ids"]:
        report.checked[scope] += 1
        found = by_number.get(vendor_id)
        if not found:
            report.add("missing", scope, f"vendor {vendor_id} has no supplier")
            continue
        supplier = found[0]
        partner = partners.get(vendor_id) or {}
        problems = []
        if partner.get("name") and supplier.get("supplier_name") != partner["name"]:
            problems.append(f"name {supplier.get('supplier_name')!r} != {partner['name']!r}")
        active = partner.get("status", "active") == "active"
        if bool(supplier.get("is_active")) != active:
            problems.append(f"is_active {supplier.get('is_active')} != {active}")
        headquarters = [p.strip() for p in str(partner.get("headquarters") or "").split(",") if p.strip()]
        if headquarters:
            main = next(
                (loc for loc in supplier.get("locations") or [] if loc.get("location_code") == "MAIN"), None
            )
            address = ((main or {}).get("addresses") or [{}])[0]
            if address.get("street") != headquarters[0]:
                problems.append(f"street {address.get('street')!r} != {headquarters[0]!r}")
            country = (
                headquarters[-1].upper() if len(headquarters) > 1 and len(headquarters[-1]) == 2 else None
            )
            if country is not None and address.get("country_code") != country:
                problems.append(f"country {address.get('country_code')!r} != {headquarters[-1]!r}")
        if problems:
            report.add("mismatch", scope, f"supplier {vendor_id}: " + "; ".join(problems))
    for number in by_number:
        if number not in truth["vendor_ids"]:
            report.add("unexpected", scope, f"supplier {number} is no vendor of any listing")


#: the Acme sandbox numbers its suppliers ACME-00001...; Connect vendor ids never look so
ACME_PREFIX = "ACME-"
#: (Nuntiq address field, Acme address field) the connector maps
ACME_ADDRESS_FIELDS = (("street", "street"), ("city", "city"), ("country_code", "country"))


def _suppliers_by_number(
    report: TruthReport, scope: str, view: NuntiqView, *, acme: bool
) -> dict[str, list[dict[str, Any]]]:
    """Nuntiq's suppliers of one source (Acme's or Connect's) by number; duplicates reported."""
    by_number: dict[str, list[dict[str, Any]]] = {}
    for supplier in view.suppliers:
        number = str(supplier["supplier_number"])
        if number.startswith(ACME_PREFIX) == acme:
            by_number.setdefault(number, []).append(supplier)
    for number, rows in by_number.items():
        if len(rows) > 1:
            report.add("duplicate", scope, f"supplier {number} stored {len(rows)} times")
    return by_number


def check_acme_suppliers(report: TruthReport, env: ProofEnv, view: NuntiqView) -> None:
    scope = "acme suppliers"
    truth = {r["number"]: r for r in _admin_json(env.acme.url, "/_sandbox/acme/suppliers")["suppliers"]}
    by_number = _suppliers_by_number(report, scope, view, acme=True)
    for number, record in sorted(truth.items()):
        report.checked[scope] += 1
        found = by_number.get(number)
        if not found:
            report.add("missing", scope, f"Acme supplier {number} is not in Nuntiq")
            continue
        supplier = found[0]
        problems = []
        if supplier.get("supplier_name") != record["name"]:
            problems.append(f"name {supplier.get('supplier_name')!r} != {record['name']!r}")
        if bool(supplier.get("is_active")) != bool(record.get("active", True)):
            problems.append(f"is_active {supplier.get('is_active')} != {record.get('active', True)}")
        address = record.get("address") or {}
        if address:
            main = next(
                (loc for loc in supplier.get("locations") or [] if loc.get("location_code") == "MAIN"), None
            )
            stored = ((main or {}).get("addresses") or [{}])[0]
            for field_name, source_name in ACME_ADDRESS_FIELDS:
                got, want = stored.get(field_name), address.get(source_name)
                if got != want:
                    problems.append(f"{field_name} {got!r} != {want!r}")
        if problems:
            report.add("mismatch", scope, f"supplier {number}: " + "; ".join(problems))
    for number in by_number:
        if number not in truth:
            report.add("unexpected", scope, f"supplier {number} is not in Acme")


def check_billing_files(report: TruthReport, env: ProofEnv, view: NuntiqView) -> None:
    truth = _admin_json(env.connect.url, "/_sandbox/connect/truth")
    expected = Counter((f["name"], f["sha256"]) for f in truth["billing_files"])
    _compare_counts(report, "billing files", expected, view.files_from("cloudblue_connect"))


def codat_companies(env: ProofEnv) -> list[str]:
    codat = env.settings["codat_pull_files"]["config"]["codat"]
    return list(codat.get("company_ids") or [codat.get("company_id")])


def check_codat_company(report: TruthReport, env: ProofEnv, view: NuntiqView, company: str) -> None:
    files = _admin_json(env.codat.url, f"/_sandbox/codat/companies/{company}/files")
    expected = Counter((f["fileName"], f["sha256"]) for f in files)
    got = view.files_from("codat", company_id=company)
    _compare_counts(report, f"codat files {company[:8]}", expected, got)


def check_codat_files(report: TruthReport, env: ProofEnv, view: NuntiqView) -> None:
    for company in codat_companies(env):
        check_codat_company(report, env, view, company)


def codat_accepts(name: str, size: int) -> bool:
    ext = name.rsplit(".", 1)[-1].lower() if "." in name else ""
    return ext in CODAT_ALLOWED and size <= CODAT_MAX_BYTES


def check_push(report: TruthReport, env: ProofEnv, view: NuntiqView) -> None:
    codat = env.settings["codat_push_documents"]["config"]["codat"]
    company, connection = codat["company_id"], codat["connection_id"]
    expected: Counter[tuple[str, str]] = Counter()
    for document in view.documents:
        if (document.get("properties") or {}).get("source") == "codat":
            continue
        for file in document.get("files") or []:
            if codat_accepts(file["file_name"], int(file["size"])):
                expected[(file["file_name"], file["sha256"])] += 1
    uploads = _admin_json(env.codat.url, "/_sandbox/codat/uploads")["files"]
    got = Counter(
        (u["file_name"], u["sha256"])
        for u in uploads
        if u["company_id"] == company and u["connection_id"] == connection
    )
    _compare_counts(report, "pushed to codat", expected, got)


def check_cursors(
    report: TruthReport, view: NuntiqView, streams: Iterable[tuple[str, str]] | None = None
) -> None:
    """Committed cursors and lower bounds never go backwards, per stream, oldest run first."""
    wanted = set(streams) if streams is not None else None
    for (connector_name, stream), history in sorted(view.runs.items()):
        if wanted is not None and (connector_name, stream) not in wanted:
            continue
        scope = f"cursor {connector_name}/{stream}"
        committed = lower = None
        for run in history:
            report.delta_texts.append((f"delta run {run['run_id']} metadata", str(run.get("metadata") or "")))
            if run.get("error"):
                report.delta_texts.append((f"delta run {run['run_id']} error", str(run["error"])))
            bound = run.get("lower_bound_cursor")
            if bound:
                value = parse_timestamp(bound)
                if lower is not None and value < lower:
                    report.add(
                        "cursor_regression", scope, f"run {run['run_id']} started at {bound}, before {lower}"
                    )
                lower = value if lower is None or value > lower else lower
            new = run.get("new_cursor")
            if run.get("status") == "completed" and new:
                value = parse_timestamp(new)
                if committed is not None and value < committed:
                    report.add(
                        "cursor_regression", scope, f"run {run['run_id']} committed {new}, after {committed}"
                    )
                committed = value if committed is None or value > committed else committed
        report.checked["streams"] += 1


CHECKS = {
    "connect_pull_suppliers": check_suppliers,
    "acme_pull_suppliers": check_acme_suppliers,
    "connect_pull_billing_documents": check_billing_files,
    "codat_pull_files": check_codat_files,
    "codat_push_documents": check_push,
}


def compare(env: ProofEnv, connectors: Iterable[str] = CONNECTORS) -> TruthReport:
    """Check the given connectors' results against the sources (faults must be off)."""
    report = TruthReport()
    api = env.api()
    try:
        view = NuntiqView.read(api)
    finally:
        api.close()
    for name in connectors:
        CHECKS[name](report, env, view)
    check_cursors(report, view)
    return report
