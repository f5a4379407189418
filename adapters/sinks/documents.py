"""Uploads documents as Nuntiq source documents, exactly once across crashes and reruns.

``upload_source_documents`` creates a new source document on every call, so a plain
"upload each item" sink duplicates documents whenever a run is retried after it had
already uploaded some. This sink runs every upload through the delivery core
(:mod:`adapters.delivery`): ``pending`` (with the file's sha256, size and name) is
written before the upload, ``done`` (with the document id) after it. On a rerun, done
keys are skipped; a pending key is reconciled by listing source documents created after
the pending mark and matching file name + sha256 *and* the delivery key the sink sends
with every upload (form field :data:`DELIVERY_FIELD`, kept as a document property)
before anything is uploaded again. Name + sha256 alone is not enough: the same file
often exists in another document (another connector's copy, a re-upload), and taking
that one for ours would lose this delivery.

Batched and concurrent: items are spooled and hashed as they are added
(:func:`adapters.delivery.spool.spool`: the recorded hash is the hash of what is sent,
and a big file is never held in memory) and delivered ``batch_size`` at a time: one
ledger read, one pending write and one done write per batch, and one upload per item
(a call makes one document, and each item is its own document) with up to
``concurrency`` uploads in flight. An item counts as durable only after its batch's done
write, i.e. at :meth:`DocumentSink.flush` at the latest.

An upload Nuntiq refuses as invalid (e.g. a 400) is reported as a rejection of that item
alone (:meth:`DocumentSink.flush_isolating`, which the sync driver quarantines); the
rest of its batch is delivered. Its pending mark stays, marked answered, so the item's
next delivery reconciles at once.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from adapters.cursor import format_cursor, parse_timestamp
from adapters.delivery import (
    ContentMismatch,
    Delivery,
    DeliveryStatus,
    ExactlyOnce,
    Ledger,
    LedgerEntry,
    RunGuard,
    Spooled,
    spool,
)
from adapters.failures import AdapterError, FailureClass
from adapters.nuntiq.listing import iter_rows
from adapters.nuntiq.retrier import nuntiq_retrier
from adapters.nuntiq.shapes import ShapeError, upload_answer
from adapters.records import DocumentItem
from adapters.retry import Retrier, RetryPolicy
from adapters.runsettings import RunLimits
from adapters.runtime import ApiLike, ContextLike
from adapters.sinks.base import IsolatedFlush, Rejection, SinkCounts, SinkError

__all__ = ["DELIVERY_FIELD", "DocumentIntegrityError", "DocumentSink"]

SOURCE_DOCUMENTS_PATH = "/v1/source-documents"
#: form field (document property) naming the ledger row an upload delivers
DELIVERY_FIELD = "adapters_delivery_key"
_LIST_PAGE = 100


class DocumentIntegrityError(SinkError):
    """The bytes read do not match the sha256 or size the source announced."""


class DocumentSink:
    """Exactly-once uploads of :class:`~adapters.records.DocumentItem` to Nuntiq.

    ``ledger`` keeps the delivery state server-side (use one namespace per connector and
    stream); ``retrier`` (Nuntiq-classified; the ledger's by default) retries uploads
    through find-before-resend; ``fields(item)`` gives extra form fields for the upload
    call; ``batch_size`` and ``concurrency`` come from ``config.run`` in
    :meth:`for_context`; ``spool_max_bytes`` is how much of one file is spooled in memory
    before disk.
    """

    def __init__(
        self,
        api: ApiLike,
        ledger: Ledger,
        *,
        name: str = "source_documents",
        retrier: Retrier | None = None,
        fields: Callable[[DocumentItem], Mapping[str, Any]] | None = None,
        spool_max_bytes: int = 1024 * 1024,
        settle: float = 2.0,
        sleep: Callable[[float], None] = time.sleep,
        batch_size: int = 40,
        concurrency: int = 4,
    ) -> None:
        if batch_size < 1 or concurrency < 1:
            raise ValueError(
                f"batch_size and concurrency must be at least 1, got {batch_size}, {concurrency}"
            )
        self.api = api
        self.ledger = ledger
        self.once = ExactlyOnce(ledger, settle=settle, sleep=sleep, answered=request_answered)
        self.retrier = retrier or ledger.retrier
        self.fields = fields
        self.spool_max_bytes = spool_max_bytes
        self.batch_size = batch_size
        self.concurrency = concurrency
        self._name = name
        self._buffer: list[tuple[DocumentItem, Spooled]] = []
        self._durable = 0
        self._rejected: list[tuple[Rejection, BaseException]] = []
        self._skipped = 0
        self._refused = 0
        self.uploaded = 0
        self.reconciled = 0

    @classmethod
    def for_context(
        cls,
        context: ContextLike,
        *,
        namespace: str,
        policy: RetryPolicy | None = None,
        **options: Any,
    ) -> DocumentSink:
        """The usual wiring: ledger and retries through ``context.api``, sizes from ``config.run``."""
        retrier = nuntiq_retrier(context, policy)
        ledger = Ledger(context.api, namespace=namespace, retrier=retrier)
        limits = RunLimits.from_context(context)
        options.setdefault("batch_size", limits.upload_batch_size)
        options.setdefault("concurrency", limits.upload_concurrency)
        return cls(context.api, ledger, retrier=retrier, **options)

    def guard_with(self, guard: RunGuard, *, settle: float) -> None:
        """Bind the run's lease: owned, fenced marks; pending marks settle ``settle`` s of server time."""
        self.once.guard_with(guard, settle=settle)

    @property
    def name(self) -> str:
        return self._name

    @property
    def pending(self) -> int:
        return len(self._buffer)

    @property
    def skipped(self) -> int:
        return self._skipped

    @property
    def counts(self) -> SinkCounts:
        """Uploaded now is written; a done mark or a reconciled upload is already present."""
        return SinkCounts(
            written=self.uploaded, already_present=self._skipped + self.reconciled, rejected=self._refused
        )

    def add(self, item: DocumentItem) -> None:
        """Spool and hash ``item`` now (a bad item is refused here, by name); deliver with its batch."""
        if any(queued.key == item.key for queued, _ in self._buffer):
            self._send()  # the same key twice: the first copy's delivery decides the second's
        try:
            spooled = spool(
                item.open,
                describe=f"document {item.key!r} ({item.name})",
                max_memory=self.spool_max_bytes,
                sha256=item.sha256,
                size=item.size,
            )
        except ContentMismatch as exc:
            raise DocumentIntegrityError(str(exc)) from exc
        self._buffer.append((item, spooled))
        if len(self._buffer) >= self.batch_size:
            self._send()

    def flush(self) -> int:
        """Deliver what is queued; raises the first rejection's error (fail-fast use)."""
        self._send()
        if self._rejected:
            _, error = self._rejected[0]
            self._rejected.clear()
            raise error
        return self._take_durable()

    def flush_isolating(self) -> IsolatedFlush:
        """Deliver what is queued; the items Nuntiq refused are reported, the rest is durable."""
        self._send()
        rejected, self._rejected = [r for r, _ in self._rejected], []
        return IsolatedFlush(written=self._take_durable(), rejected=rejected)

    def close(self) -> None:
        """Drop what was not delivered (a failed run must not write its tail) and its spools."""
        for _, spooled in self._buffer:
            spooled.close()
        self._buffer.clear()

    # -- internals -------------------------------------------------------------------------

    def _take_durable(self) -> int:
        count, self._durable = self._durable, 0
        return count

    def _send(self) -> None:
        if not self._buffer:
            return
        batch, self._buffer = self._buffer, []
        queued = {item.key: (item, spooled) for item, spooled in batch}
        try:
            outcomes = self.once.deliver_batch(
                [
                    Delivery(
                        item.key,
                        spooled.sha256,
                        {
                            "name": item.name,
                            "size": spooled.size,
                            "sha256": spooled.sha256,
                            "media_type": item.media_type,
                        },
                    )
                    for item, spooled in batch
                ],
                send=lambda group: self._upload(queued, group),
                find=lambda entries: self._find(queued, entries),
                retrier=self.retrier,
                group_size=1,
                concurrency=self.concurrency,
            )
        finally:
            for _, spooled in batch:
                spooled.close()
        fatal: BaseException | None = None
        for (item, _), outcome in zip(batch, outcomes, strict=True):
            if outcome.status is DeliveryStatus.FAILED:
                error = outcome.error
                assert error is not None
                if _refused(error):
                    self._rejected.append((Rejection(item.key, str(error)[:500], item.cursor), error))
                    self._refused += 1
                elif fatal is None:
                    fatal = error
                continue
            self._durable += 1
            if outcome.status is DeliveryStatus.SKIPPED:
                self._skipped += 1
            elif outcome.status is DeliveryStatus.RECONCILED:
                self.reconciled += 1
            else:
                self.uploaded += 1
        if fatal is not None:
            raise fatal

    def _upload(
        self, queued: Mapping[str, tuple[DocumentItem, Spooled]], group: Sequence[Delivery]
    ) -> dict[str, Mapping[str, Any]]:
        [delivery] = group
        item, spooled = queued[delivery.key]
        extra = dict(self.fields(item)) if self.fields is not None else {}
        extra[DELIVERY_FIELD] = self.ledger.row_key(item.key)
        with spooled.reader() as content:  # the ledger fenced the run's lease just before this
            body = self.api.upload_source_documents(files=[(item.name, content, item.media_type)], **extra)
        return {delivery.key: _result(body)}

    def _find(
        self, queued: Mapping[str, tuple[DocumentItem, Spooled]], entries: Sequence[LedgerEntry]
    ) -> dict[str, Mapping[str, Any]]:
        """Source documents this sink created since the entries were marked, holding these very files.

        One listing from the earliest entry's first attempt serves the whole batch.
        """
        wanted = {
            self.ledger.row_key(entry.key): (entry.key, queued[entry.key][0].name, entry.fingerprint)
            for entry in entries
        }
        created_after = format_cursor(min(self.once.search_from(entry) for entry in entries))
        documents = iter_rows(
            lambda params: self.api.get(SOURCE_DOCUMENTS_PATH, params=params),
            {"created_after": created_after},
            limit=_LIST_PAGE,
            describe="source documents",
        )
        found: dict[str, Mapping[str, Any]] = {}
        for document in documents:
            properties = document.get("properties") or {}
            delivery = properties.get(DELIVERY_FIELD) if isinstance(properties, Mapping) else None
            if not isinstance(delivery, str) or delivery not in wanted:
                continue
            key, name, sha256 = wanted[delivery]
            for file in document.get("files") or []:
                if key not in found and file.get("file_name") == name and file.get("sha256") == sha256:
                    found[key] = _result(document)
        return found


def _refused(error: BaseException) -> bool:
    """Whether Nuntiq refused this item for good (an invalid request), not the run."""
    return isinstance(error, AdapterError) and error.kind is FailureClass.INVALID


#: statuses a gateway answers while the service behind it may still be processing the request
_GATEWAY_STATUSES = frozenset({502, 504})


def request_answered(exc: BaseException) -> bool:
    """Whether a failed upload got Nuntiq's own answer, so the request is over at the server.

    ``ApiError.status_code`` is 0 when the server was not reached or the connection was
    lost (a timeout, a drop): the request may still be running there. A gateway's 502 or
    504 says the same about the service behind it.
    """
    status = getattr(exc, "status_code", None)
    return isinstance(status, int) and 100 <= status <= 599 and status not in _GATEWAY_STATUSES


def _result(body: Any) -> Mapping[str, Any]:
    """What the ledger keeps about an uploaded document: its id and creation time."""
    try:
        body = upload_answer(body)
    except ShapeError as exc:
        raise SinkError(str(exc)) from None
    created = body.get("created_at")
    return {
        "id": str(body["id"]),
        "created_at": format_cursor(parse_timestamp(created)) if isinstance(created, str) else None,
    }
