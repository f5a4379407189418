"""Vendor (partner) account details from ``/partners/{id}``, read once per run.

Listings name their vendor by id and name only; the headquarters address and status
live on the partner. A run sees the same vendor on many listings, so lookups are
cached for the lifetime of the directory object (one per run: no module globals).
"""

from __future__ import annotations

from typing import Any

from connect.client import ConnectClient

from adapters.connect.errors import classify_connect_error
from adapters.failures import AdapterError, FailureClass
from adapters.retry import Retrier
from adapters.runtime import LoggerLike

__all__ = ["PartnerDirectory"]


class PartnerDirectory:
    """``get(partner_id)`` -> the partner payload, or None when Connect has no such partner."""

    def __init__(
        self,
        client: ConnectClient,
        *,
        retrier: Retrier | None = None,
        logger: LoggerLike | None = None,
    ) -> None:
        self.client = client
        self.retrier = retrier or Retrier(classify_connect_error, source="connect.partners", logger=logger)
        self._cache: dict[str, dict[str, Any] | None] = {}
        self.requests_made = 0

    def get(self, partner_id: str) -> dict[str, Any] | None:
        if partner_id in self._cache:
            return self._cache[partner_id]

        def fetch() -> Any:
            self.requests_made += 1
            return self.client.collection("partners").resource(partner_id).get()

        try:
            payload = self.retrier.call(fetch, step="connect.partners.get")
        except AdapterError as exc:
            if exc.kind is not FailureClass.NOT_FOUND:
                raise
            payload = None
        result = payload if isinstance(payload, dict) else None
        self._cache[partner_id] = result
        return result
