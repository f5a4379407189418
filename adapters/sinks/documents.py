"""Uploads documents as Nuntiq source documents, exactly once across crashes and reruns.

``upload_source_documents`` creates a new source document on every call, so a plain
"upload each item" sink duplicates documents whenever a run is retried after it had
already uploaded some. This sink runs every upload through the server-side delivery
ledger (:mod:`adapters.ledger`): ``pending`` (with the file's sha256, size and name) is
written before the upload, ``done`` (with the document id) after it. On a rerun, done
keys are skipped; a pending key is reconciled by listing source documents created after
the pending mark and matching file name + sha256 *and* the delivery key the sink sends
with every upload (form field :data:`DELIVERY_FIELD`, kept as a document property)
before anything is uploaded again. Name + sha256 alone is not enough: the same file
often exists in another document (another connector's copy, a re-upload), and taking
that one for ours would lose this delivery.

Content is streamed into a ``SpooledTemporaryFile`` while it is hashed, so a big file
is never held in memory by the sink (small ones stay in memory, big ones go to disk),
and the same spooled copy is what gets uploaded, so the recorded hash is the hash of
what was sent even if the source would serve different bytes a second time.
"""

from __future__ import annotations

import hashlib
import tempfile
import time
from collections.abc import Callable, Mapping
from typing import IO, Any

from adapters.cursor import format_cursor, parse_timestamp
from adapters.ledger import DeliveryStatus, ExactlyOnce, Ledger, LedgerEntry, RunGuard
from adapters.nuntiq.listing import iter_rows
from adapters.nuntiq.retrier import nuntiq_retrier
from adapters.nuntiq.shapes import ShapeError, upload_answer
from adapters.records import DocumentItem
from adapters.retry import Retrier, RetryPolicy
from adapters.runtime import ApiLike, ContextLike
from adapters.sinks.base import SinkError

__all__ = ["DELIVERY_FIELD", "DocumentIntegrityError", "DocumentSink"]

SOURCE_DOCUMENTS_PATH = "/v1/source-documents"
#: form field (document property) naming the ledger row an upload delivers
DELIVERY_FIELD = "adapters_delivery_key"
_CHUNK = 1024 * 1024
_LIST_PAGE = 100


class DocumentIntegrityError(SinkError):
    """The bytes read do not match the sha256 or size the source announced."""


class DocumentSink:
    """Exactly-once uploads of :class:`~adapters.records.DocumentItem` to Nuntiq.

    ``ledger`` keeps the delivery state server-side (use one namespace per connector and
    stream); ``retrier`` (Nuntiq-classified) retries uploads through find-before-resend;
    ``fields(item)`` gives extra form fields for the upload call.
    """

    def __init__(
        self,
        api: ApiLike,
        ledger: Ledger,
        *,
        name: str = "source_documents",
        retrier: Retrier | None = None,
        fields: Callable[[DocumentItem], Mapping[str, Any]] | None = None,
        spool_max_bytes: int = 8 * 1024 * 1024,
        settle: float = 2.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.api = api
        self.ledger = ledger
        self.once = ExactlyOnce(ledger, settle=settle, sleep=sleep, answered=request_answered)
        self.retrier = retrier
        self.fields = fields
        self.spool_max_bytes = spool_max_bytes
        self._name = name
        self._since_flush = 0
        self._skipped = 0
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
        """The usual wiring: ledger and retries through ``context.api``, retries logged."""
        retrier = nuntiq_retrier(context, policy)
        ledger = Ledger(context.api, namespace=namespace, retrier=retrier)
        return cls(context.api, ledger, retrier=retrier, **options)

    def guard_with(self, guard: RunGuard, *, settle: float) -> None:
        """Bind the run's lease: owned, fenced marks; pending marks settle ``settle`` s of server time."""
        self.once.guard_with(guard, settle=settle)

    @property
    def name(self) -> str:
        return self._name

    @property
    def pending(self) -> int:
        return 0  # every add() finishes its upload before returning

    @property
    def skipped(self) -> int:
        return self._skipped

    def add(self, item: DocumentItem) -> None:
        delivery = self.ledger.row_key(item.key)
        with self._spool(item) as (spool, sha256, size):

            def send() -> Mapping[str, Any]:
                spool.seek(0)  # the ledger fenced the run's lease just before this
                extra = dict(self.fields(item)) if self.fields is not None else {}
                extra[DELIVERY_FIELD] = delivery
                body = self.api.upload_source_documents(files=[(item.name, spool, item.media_type)], **extra)
                return _result(body)

            def find(entry: LedgerEntry) -> Mapping[str, Any] | None:
                return self._find(entry, name=item.name, sha256=sha256, delivery=delivery)

            outcome = self.once.deliver(
                item.key,
                fingerprint=sha256,
                send=send,
                find=find,
                detail={"name": item.name, "size": size, "sha256": sha256, "media_type": item.media_type},
                retrier=self.retrier,
            )
        self._since_flush += 1
        if outcome.status is DeliveryStatus.SKIPPED:
            self._skipped += 1
        elif outcome.status is DeliveryStatus.RECONCILED:
            self.reconciled += 1
        else:
            self.uploaded += 1

    def flush(self) -> int:
        count, self._since_flush = self._since_flush, 0
        return count

    def close(self) -> None:
        return None

    # -- internals -------------------------------------------------------------------------

    def _spool(self, item: DocumentItem) -> _Spooled:
        return _Spooled(item, self.spool_max_bytes)

    def _find(self, entry: LedgerEntry, *, name: str, sha256: str, delivery: str) -> Mapping[str, Any] | None:
        """A source document this sink created since ``entry`` was marked, holding this very file."""
        created_after = format_cursor(self.once.search_from(entry))
        documents = iter_rows(
            lambda params: self.api.get(SOURCE_DOCUMENTS_PATH, params=params),
            {"created_after": created_after},
            limit=_LIST_PAGE,
            describe="source documents",
        )
        for document in documents:
            properties = document.get("properties") or {}
            if not isinstance(properties, Mapping) or properties.get(DELIVERY_FIELD) != delivery:
                continue
            for file in document.get("files") or []:
                if file.get("file_name") == name and file.get("sha256") == sha256:
                    return _result(document)
        return None


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


class _Spooled:
    """Context manager: the item's bytes spooled and hashed, as (file, sha256, size)."""

    def __init__(self, item: DocumentItem, max_size: int) -> None:
        self.item = item
        self.max_size = max_size
        self.file: IO[bytes] | None = None

    def __enter__(self) -> tuple[IO[bytes], str, int]:
        spool: IO[bytes] = tempfile.SpooledTemporaryFile(max_size=self.max_size)
        self.file = spool
        try:
            return self._fill(spool)
        except BaseException:
            spool.close()
            raise

    def _fill(self, spool: IO[bytes]) -> tuple[IO[bytes], str, int]:
        item = self.item
        digest = hashlib.sha256()
        size = 0
        source = item.open()
        try:
            while chunk := source.read(_CHUNK):
                digest.update(chunk)
                size += len(chunk)
                spool.write(chunk)
        finally:
            source.close()
        sha256 = digest.hexdigest()
        if item.sha256 is not None and item.sha256.lower() != sha256:
            raise DocumentIntegrityError(
                f"document {item.key!r} ({item.name}): content sha256 {sha256} does not match "
                f"the announced {item.sha256}"
            )
        if item.size is not None and item.size != size:
            raise DocumentIntegrityError(
                f"document {item.key!r} ({item.name}): read {size} bytes, the source announced {item.size}"
            )
        spool.seek(0)
        return spool, sha256, size

    def __exit__(self, *exc: object) -> None:
        if self.file is not None:
            self.file.close()
