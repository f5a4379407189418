"""Vendor (partner) account details from ``/partners``, read once per run.

Listings name their vendor by id and name only; the headquarters address and status
live on the partner. A run sees the same vendor on many listings, so lookups are
cached for the lifetime of the directory object (one per run: no module globals).
:meth:`PartnerDirectory.prefetch` loads many partners with one ``in(id,(...))`` list
call, so a connector pays one round trip per batch of vendors instead of one each.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from connect.client import ConnectClient, R

from adapters.connect.errors import classify_connect_error
from adapters.failures import AdapterError, FailureClass
from adapters.retry import Retrier, RetryPolicy
from adapters.runtime import ContextLike, LoggerLike

__all__ = ["PREFETCH_CHUNK", "PartnerDirectory"]

#: ids per ``in(id,(...))`` list call: keeps the RQL in the URL well under common length limits
PREFETCH_CHUNK = 100


class PartnerDirectory:
    """``get(partner_id)`` -> the partner payload, or None when Connect has no such partner."""

    def __init__(
        self,
        client: ConnectClient,
        *,
        retrier: Retrier | None = None,
        logger: LoggerLike | None = None,
        policy: RetryPolicy | None = None,
    ) -> None:
        self.client = client
        self.retrier = retrier or Retrier(
            classify_connect_error, source="connect.partners", logger=logger, policy=policy
        )
        self._cache: dict[str, dict[str, Any] | None] = {}
        self.requests_made = 0

    @classmethod
    def for_context(cls, context: ContextLike, client: ConnectClient) -> PartnerDirectory:
        """The usual wiring: lookups retried under ``config.retry``, logged to the job."""
        return cls(client, logger=context.logger, policy=RetryPolicy.from_context(context))

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

    def prefetch(self, partner_ids: Iterable[str]) -> None:
        """Load every partner in ``partner_ids`` not cached yet, a chunk per list call.

        The list answer is never trusted to be complete: a page the server capped is
        followed by another ``in(id,(...))`` call for the ids still missing (the list
        shrinks, so no offset is needed and every call is as full as the server allows),
        until a call brings nothing new; any id still missing then (a partner the list
        does not show) is looked up on its own with :meth:`get`. A short page costs a
        request, never a vendor.
        """
        wanted = sorted({pid for pid in partner_ids if pid and pid not in self._cache})
        for start in range(0, len(wanted), PREFETCH_CHUNK):
            missing = wanted[start : start + PREFETCH_CHUNK]
            while missing:

                def fetch(chunk: list[str] = missing) -> list[Any]:
                    self.requests_made += 1
                    found = self.client.collection("partners").filter(R().id.in_(chunk)).limit(len(chunk))
                    return list(found)

                arrived = 0
                for payload in self.retrier.call(fetch, step="connect.partners.prefetch"):
                    if isinstance(payload, dict) and payload.get("id") in missing:
                        self._cache[payload["id"]] = payload
                        arrived += 1
                if not arrived:
                    break
                missing = [pid for pid in missing if pid not in self._cache]
            for pid in missing:
                if pid not in self._cache:
                    self.get(pid)
