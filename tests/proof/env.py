"""The environment every proof suite runs in: four sandbox services, five connectors.

:class:`ProofEnv` starts Nuntiq (SQLite in a scratch directory), Connect, Codat and Acme as
child processes with small, seeded data sets and with API keys made up for this
environment (so a secret scan looks for values nobody else uses), builds each shipped
connector's settings from its fixture with the sandbox URLs filled in, and runs a
connector in this process through :func:`lib.runner.run_connector`, keeping every
log line and error text for the secret scan and the retry count.
"""

from __future__ import annotations

import base64
import io
import json
import os
import secrets
import shutil
import tempfile
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from lib.api_client import ApiClient
from lib.context import read_settings
from lib.integrations import integration_of
from lib.jobcontext import issue_job_token
from lib.runner import REPO_ROOT, RunReport, run_connector
from sandbox.server import RunningServer, serve_in_subprocess

CUSTOMER = "70000001"

#: the five connectors the suites exercise, in the order a round runs them: the push
#: runs after the pulls that create Nuntiq documents, the Codat pull last so it also
#: brings back what the push uploaded
CONNECTORS: tuple[str, ...] = (
    "connect_pull_suppliers",
    "acme_pull_suppliers",
    "connect_pull_billing_documents",
    "codat_push_documents",
    "codat_pull_files",
)

CODAT_COMPANY = "8a210b68-6988-11ed-a1eb-0242ac120002"
CODAT_CONNECTION = "2e9d2c44-f675-40ba-8049-353bfcb5e171"
CODAT_SMALL_COMPANY = "5c3f1a2e-0d4b-4c55-9a61-7f2b3c4d5e6f"
CODAT_SMALL_CONNECTION = "9b1c2d3e-4f50-4a61-8b72-9c8d7e6f5a4b"

#: the mix of failures the soak injects on every service: ~10% of requests fail
#: (429 with Retry-After, 502, 503, dropped connections) and some are slow
SOAK_FAULTS: dict[str, Any] = {
    "error_rate": 0.07,
    "statuses": [429, 502, 503],
    "retry_after": 1,
    "drop_rate": 0.03,
    "slow_rate": 0.05,
    "slow_ms": 150,
}


#: per-connector config the suites add to the shipped fixture (small pages: several even
#: for a small data set)
PROOF_CONFIG: dict[str, dict[str, Any]] = {"acme_pull_suppliers": {"page_size": 5}}


#: Connect settings that put every listings read of the suites' small data sets through
#: parallel windows (adapters.connect.windows): pages of 5, so the first page is full and
#: claims more, windows of about 4 listings, four read at once
CONNECT_WINDOWS: dict[str, Any] = {"connect_page_size": 5, "connect_parallel_windows": 4}

#: environment variable holding Connect config (JSON) added to every Connect connector the
#: suites run, e.g. ``PROOF_CONNECT_CONFIG='{"connect_parallel_windows": 4}'``; the
#: ``--connect-windows`` option of ``python -m tests.proof`` sets it to CONNECT_WINDOWS
CONNECT_CONFIG_VARIABLE = "PROOF_CONNECT_CONFIG"


def connect_config_from_environment() -> dict[str, Any]:
    raw = os.environ.get(CONNECT_CONFIG_VARIABLE, "").strip()
    if not raw:
        return {}
    value = json.loads(raw)
    if not isinstance(value, dict) or not all(str(k).startswith("connect_") for k in value):
        raise ValueError(f"{CONNECT_CONFIG_VARIABLE} must be a JSON object of connect_* keys, got {raw!r}")
    return value


@dataclass(frozen=True)
class Sizes:
    """How much data the sources start with."""

    listings: int = 30
    vendors: int = 6
    billing_batches: int = 3
    codat_files: int = 12
    codat_days: int = 3
    codat_small_files: int = 6
    codat_small_days: int = 2
    acme_suppliers: int = 40

    def connect_counts(self) -> dict[str, int]:
        return {
            "vendors": self.vendors,
            "providers": 2,
            "listings": self.listings,
            "requests": 2,
            "subscription_assets": 2,
            "subscription_requests": 2,
            "tier_accounts": 2,
            "billing_batches": self.billing_batches,
            "media_files": 1,
        }

    def codat_overrides(self, api_key: str) -> dict[str, Any]:
        return {
            "api_key": api_key,
            "companies": {
                CODAT_COMPANY: {
                    "connections": [CODAT_CONNECTION],
                    "files": self.codat_files,
                    "days": self.codat_days,
                },
                CODAT_SMALL_COMPANY: {
                    "connections": [CODAT_SMALL_CONNECTION],
                    "files": self.codat_small_files,
                    "days": self.codat_small_days,
                },
            },
        }


SMALL = Sizes()
TINY = Sizes(
    listings=16,
    vendors=4,
    billing_batches=2,
    codat_files=6,
    codat_days=2,
    codat_small_files=3,
    acme_suppliers=12,
)


#: the four Acme variants (the recipe confirms neither an ordered listing nor an inclusive
#: ``updated_after``); an environment starts in one chosen by its seed, and the source
#: changer moves to the next one every round, so every suite covers all four
ACME_VARIANTS: tuple[dict[str, bool], ...] = tuple(
    {"ordered": ordered, "inclusive": inclusive} for ordered in (True, False) for inclusive in (True, False)
)


def acme_variant(seed: int) -> dict[str, bool]:
    return dict(ACME_VARIANTS[seed % len(ACME_VARIANTS)])


#: ``config.retry`` of every connector the suites run: short waits, because the suites
#: inject many failures and a run must take seconds, not minutes. ``Retry-After`` is still
#: honoured: a wait is never shorter than what the server asked for.
SOAK_RETRY: dict[str, float] = {
    "max_attempts": 5,
    "initial_wait": 0.05,
    "multiplier": 2.0,
    "max_wait": 2.0,
    "max_total": 20.0,
}


#: ``config.run`` of every connector the suites run: a lease that a killed run holds
#: expires within seconds (not the production 5 minutes), and a pending upload is
#: reconciled 2 s after its mark (1 s assumed request deadline + a quarter ttl)
PROOF_RUN: dict[str, float] = {
    "lease_ttl_seconds": 4.0,
    "upload_deadline_seconds": 1.0,
    "checkpoint_every_seconds": 2.0,
}


@dataclass
class RunRecord:
    """One connector run as the suites keep it."""

    connector: str
    report: RunReport
    log: str
    label: str = ""
    #: the job token the run used (Nuntiq's write log names writers by it)
    token: str = ""

    @property
    def ok(self) -> bool:
        return self.report.ok

    @property
    def retries(self) -> int:
        return count_retries(self.log)

    @property
    def busy(self) -> bool:
        """Whether a sync of the run found its stream's lease held by another run."""
        return '"step": "lease_busy"' in self.log or '"step":"lease_busy"' in self.log


def count_retries(log_text: str) -> int:
    """Retry warnings in JSON log lines (one per wait of the retry policy)."""
    count = 0
    for line in log_text.splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if record.get("level") == "warn" and "retrying in" in str(record.get("message", "")):
            count += 1
    return count


@dataclass
class ProofEnv:
    workdir: Path
    nuntiq: RunningServer
    connect: RunningServer
    codat: RunningServer
    acme: RunningServer
    connect_key: str
    codat_key: str
    acme_token: str
    settings: dict[str, dict[str, Any]]
    customer: str = CUSTOMER
    #: the seed the services were generated from
    seed: int = 1
    tokens: list[str] = field(default_factory=list)
    runs: list[RunRecord] = field(default_factory=list)
    #: texts the suites produced outside connector runs (crash children's logs, errors)
    extra_texts: list[tuple[str, str]] = field(default_factory=list)
    #: job tokens of connector runs in child processes (their records live in the child)
    child_tokens: list[str] = field(default_factory=list)
    _own_workdir: bool = True
    #: added to every Connect connector's config (e.g. :data:`CONNECT_WINDOWS`)
    connect_config: dict[str, Any] = field(default_factory=dict)

    # -- lifecycle -------------------------------------------------------------------------

    @classmethod
    def start(
        cls,
        sizes: Sizes = SMALL,
        *,
        seed: int = 1,
        workdir: Path | None = None,
        nuntiq_options: Mapping[str, Any] | None = None,
        connect_config: Mapping[str, Any] | None = None,
    ) -> ProofEnv:
        """Start the three services; ``nuntiq_options`` go to the Nuntiq sandbox (variants, clock offset).

        ``connect_config`` is added to the Connect connectors' config (default: the
        ``PROOF_CONNECT_CONFIG`` environment variable, so a whole suite can be run with,
        say, parallel windows forced on).
        """
        own = workdir is None
        root = Path(tempfile.mkdtemp(prefix="nuntiq-proof-")) if workdir is None else workdir
        root.mkdir(parents=True, exist_ok=True)
        connect_key = f"ApiKey SU-{seed % 1000:03d}-424-242:proof-connect-{secrets.token_hex(12)}"
        codat_key = f"proof-codat-{secrets.token_hex(16)}"
        acme_token = f"proof-acme-{secrets.token_hex(16)}"
        started: list[RunningServer] = []
        try:
            nuntiq = serve_in_subprocess(
                "nuntiq", db_path=str(root / "nuntiq.sqlite3"), **dict(nuntiq_options or {})
            )
            started.append(nuntiq)
            connect = serve_in_subprocess(
                "connect", api_key=connect_key, seed=seed, counts=sizes.connect_counts()
            )
            started.append(connect)
            codat = serve_in_subprocess("codat", seed_overrides=sizes.codat_overrides(codat_key))
            started.append(codat)
            acme = serve_in_subprocess(
                "acme", token=acme_token, count=sizes.acme_suppliers, seed=seed, **acme_variant(seed)
            )
            started.append(acme)
        except BaseException:
            for server in started:
                server.stop()
            if own:
                shutil.rmtree(root, ignore_errors=True)
            raise
        env = cls(
            workdir=root,
            nuntiq=nuntiq,
            connect=connect,
            codat=codat,
            acme=acme,
            connect_key=connect_key,
            codat_key=codat_key,
            acme_token=acme_token,
            settings={},
            seed=seed,
            _own_workdir=own,
            connect_config=dict(
                connect_config_from_environment() if connect_config is None else connect_config
            ),
        )
        env.settings = {name: env.build_settings(name) for name in CONNECTORS}
        return env

    def stop(self) -> None:
        for server in (self.acme, self.codat, self.connect, self.nuntiq):
            server.stop()
        if self._own_workdir:
            shutil.rmtree(self.workdir, ignore_errors=True)

    def __enter__(self) -> ProofEnv:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- settings ----------------------------------------------------------------------------

    def build_settings(self, connector: str) -> dict[str, Any]:
        """The connector's settings fixture, pointed at this environment's services and keys."""
        settings = read_settings(REPO_ROOT / "fixtures" / "settings" / f"{connector}.json")
        settings["customer_number"] = self.customer
        config = settings["config"]
        config["retry"] = dict(SOAK_RETRY)
        config["run"] = dict(PROOF_RUN)
        integration = integration_of(connector)
        integration.point_at(settings, self)
        if integration.name == "connect":
            config.update(self.connect_config)
        config.update(PROOF_CONFIG.get(connector, {}))
        return settings

    def url(self, service: str) -> str:
        """A running service's base URL (the plug-ins' :class:`~lib.integrations.SandboxTarget`)."""
        return self.servers[service].url

    def key(self, service: str) -> str:
        """The API key this environment made up for ``service``."""
        keys = {"connect": self.connect_key, "codat": self.codat_key, "acme": self.acme_token}
        return keys[service]

    def write_settings(self, connector: str, settings: Mapping[str, Any] | None = None) -> Path:
        path = self.workdir / f"settings-{connector}.json"
        path.write_text(json.dumps(settings or self.settings[connector], indent=2), encoding="utf-8")
        return path

    @property
    def secret_values(self) -> dict[str, str]:
        """Every credential of this environment, by what it is."""
        bare_connect = self.connect_key.removeprefix("ApiKey ").strip()
        basic = base64.b64encode(self.codat_key.encode()).decode()
        values = {
            "connect api key": self.connect_key,
            "connect api key (bare)": bare_connect,
            "connect api key (secret part)": bare_connect.partition(":")[2],
            "codat api key": self.codat_key,
            "codat api key (base64 Basic form)": basic,
            "acme token": self.acme_token,
        }
        for i, token in enumerate(self.tokens):
            values[f"nuntiq job token #{i + 1}"] = token
        return values

    # -- Nuntiq --------------------------------------------------------------------------------

    def issue_token(self) -> str:
        token = issue_job_token(self.nuntiq, self.customer)
        self.tokens.append(token)
        return token

    def api(self) -> ApiClient:
        return ApiClient(self.nuntiq.url, self.issue_token(), self.customer)

    def set_variants(self, **variants: Any) -> None:
        """The Nuntiq sandbox's answers to unconfirmed assumptions (see sandbox/nuntiq/variants.py)."""
        with self.nuntiq.admin() as client:
            current = client.get("/_sandbox/nuntiq/variants").json()
            current.update(variants)
            client.put("/_sandbox/nuntiq/variants", json=current).raise_for_status()

    def write_log(self) -> list[dict[str, Any]]:
        """Every write Nuntiq recorded (kind, key, server time, job token), oldest first."""
        with self.nuntiq.admin() as client:
            response = client.get("/_sandbox/nuntiq/write-log", params={"customer_number": self.customer})
            response.raise_for_status()
            items: list[dict[str, Any]] = response.json()["items"]
            return items

    def counters(self) -> dict[str, int]:
        response = httpx.get(
            f"{self.nuntiq.url}/_sandbox/nuntiq/counters",
            params={"customer_number": self.customer},
            timeout=30,
        )
        response.raise_for_status()
        result: dict[str, int] = response.json()
        return result

    # -- faults and stats -------------------------------------------------------------------------

    @property
    def servers(self) -> dict[str, RunningServer]:
        return {"nuntiq": self.nuntiq, "connect": self.connect, "codat": self.codat, "acme": self.acme}

    def set_faults(self, plan: Mapping[str, Any] | None = None, *, seed: int | None = None) -> None:
        """The same fault plan on every service (each with its own seed), or none."""
        for offset, server in enumerate(self.servers.values()):
            body = dict(plan or {})
            if plan and seed is not None:
                body["seed"] = seed * 10 + offset
            server.set_faults(**body)

    def clear_faults(self) -> None:
        self.set_faults(None)

    def stats(self) -> dict[str, dict[str, int]]:
        return {name: server.stats() for name, server in self.servers.items()}

    def reset_stats(self) -> None:
        for server in self.servers.values():
            with server.admin() as client:
                client.post("/_sandbox/stats/reset").raise_for_status()

    # -- runs ---------------------------------------------------------------------------------

    def run(
        self,
        connector: str,
        *,
        params: Mapping[str, Any] | None = None,
        settings: Mapping[str, Any] | None = None,
        token: str | None = None,
        label: str = "",
        timeout: float = 30,
    ) -> RunRecord:
        """Run ``connector`` once in this process; the record keeps its log and report.

        Runs may go on in several threads at once (the overlap proof does): each has its
        own context, client and log buffer.
        """
        buffer = io.StringIO()
        token = token or self.issue_token()
        report = run_connector(
            connector,
            settings or self.settings[connector],
            api_url=self.nuntiq.url,
            job_token=token,
            params=params,
            log_stream=buffer,
            log_format="json",
            timeout=timeout,
        )
        record = RunRecord(connector, report, buffer.getvalue(), label, token)
        self.runs.append(record)
        return record

    def run_until_ok(self, connector: str, attempts: int = 3) -> RunRecord:
        """Run until a run succeeds without finding a stream busy (a killed run's lease lapses first)."""
        record = self.run(connector, label="settle")
        for _ in range(attempts - 1):
            if record.ok and not record.busy:
                break
            if record.busy:
                time.sleep(PROOF_RUN["lease_ttl_seconds"] / 2)
            record = self.run(connector, label="settle")
        return record

    def texts(self) -> Iterator[tuple[str, str]]:
        """(where, text) of every log and error text the environment has seen."""
        for i, record in enumerate(self.runs):
            where = f"run {i + 1} {record.connector}"
            yield f"{where} log", record.log
            if record.report.error:
                yield f"{where} error", record.report.error
            if record.report.error_trace:
                yield f"{where} traceback", record.report.error_trace
            if record.report.result is not None:
                yield f"{where} result", json.dumps(record.report.result, default=str)
        yield from self.extra_texts
