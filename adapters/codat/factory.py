"""Wiring from a job context: settings, API key secret, SDK client, retrier, source, upload sink.

Connectors call these instead of assembling the pieces, so every Codat connector gets
the same retries-off SDK, the same classifier (whose auth hint names the configured
secret) and the same logging.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

from adapters.codat.client import CodatFilesClient
from adapters.codat.days import Refusal
from adapters.codat.delivered import DeliveryRecord
from adapters.codat.errors import make_classifier
from adapters.codat.settings import CodatSettings
from adapters.codat.sink import CodatUploadSink
from adapters.codat.source import CodatFilesSource, document_key
from adapters.codat.upload import CodatUploader
from adapters.ledger import Ledger
from adapters.nuntiq.retrier import nuntiq_retrier
from adapters.retry import Retrier, RetryPolicy
from adapters.runsettings import RunLimits
from adapters.runtime import ContextLike


class CodatConfigError(ValueError):
    """A Codat setting or secret is missing; the message names it."""


def settings_from_context(context: ContextLike, key: str = "codat") -> CodatSettings:
    try:
        return CodatSettings.from_context(context, key)
    except ValueError as exc:
        raise CodatConfigError(f"settings config.{key}: {exc}") from exc


def client_from_context(
    context: ContextLike, settings: CodatSettings | None = None, **kwargs: Any
) -> CodatFilesClient:
    """A :class:`CodatFilesClient` using the secret ``settings.api_key_secret``."""
    settings = settings or settings_from_context(context)
    key = context.get_secret(settings.api_key_secret)
    if not isinstance(key, str) or not key.strip():
        raise CodatConfigError(f"secret {settings.api_key_secret!r} (the Codat API key) is not set")
    return CodatFilesClient.create(settings, key, **kwargs)


def codat_retrier(
    context: ContextLike, settings: CodatSettings, *, source: str = "codat", policy: RetryPolicy | None = None
) -> Retrier:
    return Retrier(
        make_classifier(settings.api_key_secret),
        source=source,
        logger=context.logger,
        policy=policy or RetryPolicy.from_context(context),
    )


def files_source(
    context: ContextLike,
    client: CodatFilesClient,
    company_id: str,
    *,
    stream: str | None = None,
    policy: RetryPolicy | None = None,
    delivered_by: Ledger | None = None,
    on_refusal: Callable[[Refusal], None] | None = None,
) -> CodatFilesSource:
    """One company's files; use it in a ``with`` block so its archives are removed.

    ``delivered_by`` is the ledger of the sink the files go to: with it the source
    delivers every listed file that ledger has not settled, keeping per-day summaries
    next to it (:mod:`adapters.codat.delivered`), instead of only files at or after the
    cursor. ``on_refusal`` receives each file or member refused this run.
    """
    retrier = codat_retrier(context, client.settings, source=f"codat company {company_id}", policy=policy)
    record = None
    if delivered_by is not None:
        record = DeliveryRecord(
            context.api,
            namespace=delivered_by.namespace,
            company_id=company_id,
            ledger=delivered_by,
            key_of=partial(document_key, company_id),
            retrier=nuntiq_retrier(context, policy),
        )
    return CodatFilesSource(
        client,
        company_id,
        retrier=retrier,
        logger=context.logger,
        stream=stream,
        delivered=record,
        on_refusal=on_refusal,
    )


def upload_sink(
    context: ContextLike,
    client: CodatFilesClient,
    *,
    company_id: str,
    connection_id: str,
    ledger_namespace: str | None,
    name: str = "codat_upload",
    policy: RetryPolicy | None = None,
) -> CodatUploadSink:
    """Upload sink for one connection; exactly-once when ``ledger_namespace`` is given."""
    retrier = codat_retrier(context, client.settings, source=f"codat company {company_id}", policy=policy)
    ledger = None
    if ledger_namespace is not None:
        nuntiq = nuntiq_retrier(context, policy)
        ledger = Ledger(context.api, namespace=ledger_namespace, retrier=nuntiq)
    limits = RunLimits.from_context(context)
    uploader = CodatUploader(
        client,
        company_id,
        connection_id,
        retrier=retrier,
        logger=context.logger,
        ledger=ledger,
        concurrency=limits.upload_concurrency,
    )
    return CodatUploadSink(uploader, name=name, batch_size=limits.upload_batch_size)
