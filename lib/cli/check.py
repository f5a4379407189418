"""``python -m lib.cli check``: can this settings file reach everything it names?

Each check makes the cheapest *read* call its API offers, once, without retries and with
short timeouts (:data:`CHECK_TIMEOUT`), so a wrong key or URL is reported in seconds and
nothing is written. What each call costs is in :data:`COSTS` and printed with the result;
note Codat's: its only list call returns every file of the company.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from adapters.codat.client import CodatFilesClient
from adapters.codat.errors import make_classifier
from adapters.codat.factory import CodatConfigError
from adapters.codat.settings import CodatSettings
from adapters.connect.errors import classify_connect_error
from adapters.connect.paging import fetch_page
from adapters.connect.settings import API_KEY_SECRET_SETTING, client_from_context, settings_from_context
from adapters.failures import Classifier, Failure
from adapters.nuntiq.classifier import classify_nuntiq_error
from adapters.settings import SettingsError
from lib.api_client import ApiClient
from lib.context import Context
from lib.delta import list_delta_states
from lib.integrations import INTEGRATIONS

__all__ = ["CHECK_TIMEOUT", "CheckResult", "run_checks"]

#: connect and read timeouts of every check (seconds): the whole check stays under 5 s
CHECK_TIMEOUT = 2.0

COSTS = {
    "connect": "1 request (GET /listings?limit=0), no records returned",
    "codat": "1 request per company (GET /companies/{id}/data/files): returns every file, "
    "counts against the 1,000/min request limit and any plan quota",
    "nuntiq": "1 request (GET /v1/delta/states)",
}


@dataclass(frozen=True)
class CheckResult:
    service: str
    target: str
    ok: bool
    detail: str
    fix: str
    cost: str
    seconds: float


#: what to fix per service and failure class, when the classifier gives no hint
FIXES: dict[str, dict[str, str]] = {
    "connect": {
        "transient": "check config connect_endpoint and that Connect is up",
        "not_found": "check config connect_endpoint: no Connect API answered /listings there "
        "(it must end in /public/v1)",
    },
    "codat": {
        "transient": "check config codat.server_url and that Codat is up",
        "not_found": "check config codat.company_ids: Codat does not know this company",
    },
    "nuntiq": {
        "transient": "check --api-url (or the framework's API URL) and that Nuntiq is up",
        "auth": "check --token: the job token was refused",
    },
}
GENERIC_FIXES = {
    "auth": "check the API key secret",
    "quota": "check the account's plan and limits",
    "rate_limited": "try again later",
}


def _failure_text(service: str, failure: Failure | None, exc: BaseException) -> tuple[str, str]:
    """(what happened, what to fix) from a classified failure."""
    if failure is None:
        return f"{type(exc).__name__}: {exc}", "see the error above"
    kind = failure.kind.value
    fix = failure.hint or FIXES[service].get(kind) or GENERIC_FIXES.get(kind, "see the error above")
    return f"{kind}: {failure.message}", fix


def _probe(
    service: str, target: str, call: Callable[[], str], classifier: Classifier
) -> CheckResult:
    started = time.monotonic()
    try:
        detail = call()
    except Exception as exc:
        failure = classifier(exc)
        what, fix = _failure_text(service, failure, exc)
        return CheckResult(service, target, False, what, fix, COSTS[service], time.monotonic() - started)
    return CheckResult(service, target, True, detail, "", COSTS[service], time.monotonic() - started)


def _settings_problem(service: str, target: str, exc: Exception) -> CheckResult:
    return CheckResult(service, target, False, str(exc), "fix the settings file", "no request made", 0.0)


def check_connect(context: Context) -> CheckResult:
    try:
        settings = settings_from_context(context).model_copy(
            update={"connection_timeout": CHECK_TIMEOUT, "read_timeout": CHECK_TIMEOUT}
        )
        client = client_from_context(context, settings)
    except (SettingsError, ValueError) as exc:
        return _settings_problem("connect", str(context.get_config("connect_endpoint") or "?"), exc)

    def call() -> str:
        fetch_page(client, "listings", "", limit=0, offset=0)
        total = client.response.headers.get("Content-Range", "") if client.response is not None else ""
        seen = f" ({total.rpartition('/')[2]} listings visible)" if "/" in total else ""
        return f"API key accepted (secret named by {API_KEY_SECRET_SETTING}){seen}"

    return _probe("connect", settings.endpoint, call, classify_connect_error)


def check_codat(context: Context) -> list[CheckResult]:
    block = context.get_config("codat")
    target = str(block.get("server_url", "?")) if isinstance(block, Mapping) else "?"
    try:
        settings = CodatSettings.from_context(context).model_copy(update={"timeout_s": CHECK_TIMEOUT})
    except ValueError as exc:
        return [_settings_problem("codat", target, exc)]
    key = context.get_secret(settings.api_key_secret)
    if not key:
        return [_settings_problem("codat", settings.server_url, CodatConfigError(
            f"secret {settings.api_key_secret!r} (named by config.codat.api_key_secret) is not set"))]
    client = CodatFilesClient.create(settings, str(key))
    classifier = make_classifier(settings.api_key_secret)
    results = []
    try:
        for company in settings.company_ids or ("(no company configured)",):
            def call(company: str = company) -> str:
                files = client.list_files(company)
                return f"API key accepted; company {company}: {len(files)} files listed"

            results.append(_probe("codat", f"{settings.server_url} company {company}", call, classifier))
    finally:
        client.close()
    return results


def check_nuntiq(context: Context, api_url: str, token: str, origin: str) -> CheckResult:
    api = ApiClient(api_url, token, context.customer_number, timeout=CHECK_TIMEOUT)

    def call() -> str:
        states = list_delta_states(api)
        return f"job token accepted for customer {context.customer_number}; {len(states)} stored cursors"

    try:
        return _probe("nuntiq", f"{api_url} ({origin})", call, classify_nuntiq_error)
    finally:
        api.close()


def run_checks(context: Context, *, api_url: str, token: str, api_origin: str) -> list[CheckResult]:
    """Every service the settings name, then Nuntiq; never writes, never retries."""
    config: Mapping[str, Any] = context.config
    results: list[CheckResult] = []
    for integration in INTEGRATIONS:  # each plug-in says which settings are its own
        if integration.owns_config(config):
            results += integration.checks(context)
    results.append(check_nuntiq(context, api_url, token, api_origin))
    return results
