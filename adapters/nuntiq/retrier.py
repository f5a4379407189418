"""The retrier for calls to Nuntiq itself (saves, uploads, ledger rows, document reads)."""

from __future__ import annotations

from adapters.nuntiq.classifier import classify_nuntiq_error
from adapters.retry import Retrier, RetryPolicy
from adapters.runtime import ContextLike


def nuntiq_retrier(context: ContextLike, policy: RetryPolicy | None = None) -> Retrier:
    """Nuntiq's classifier under the job's ``config.retry`` (or ``policy``), logged to the job."""
    if policy is None:
        return Retrier.for_context(context, classify_nuntiq_error, source="nuntiq")
    return Retrier(classify_nuntiq_error, source="nuntiq", logger=context.logger, policy=policy)
