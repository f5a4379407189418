"""Quarantine: items refused permanently are kept, reported and retried, never lost or blocking.

Why: a connector on a 15-minute schedule has nobody watching it. Failing the run on one
bad record (an archive member refused for safety, a record that does not map, a row the
Load rejects, a file whose download is always refused) fails every later run too, and
the data behind the bad record is never read. Skipping the record would lose it. So a
refused item goes into a store that survives runs (Nuntiq custom-data rows, like the
delivery ledger, because connector containers are ephemeral) and the run goes on.

The rules the sync driver enforces with :class:`Quarantine`:

* an entry is written durably before the cursor may pass its item: the driver flushes
  the quarantine together with the sinks, and only then counts the batch durable;
* every entry has its key, source, stream, stage (who refused it), reason, first and
  last seen, how often it was seen, its cursor and the source's refetch hint; each new
  refusal is logged at error level and counted in the summary and delta metadata;
* at the start of a run the stream's entries are handed to the source's ``refetch()``
  (:class:`~adapters.protocol.Refetchable`) and an entry is released (deleted) as soon
  as its key lands in every sink, in the retry pass or later in the run;
* a run fails when, while reading its window, it refuses more than
  ``max(max_items, max_ratio * items read)`` items: that is a systematic fault (a schema
  change, a wrong setting) rather than bad records, and the cursor stays. Refusals of
  already-quarantined items in the retry pass do not count, or a large quarantine
  would fail every later run;
* ``config.quarantine = false`` keeps fail-fast behaviour: :meth:`Quarantine.for_context`
  returns ``None`` and the driver fails the run on the first refusal, as before.

Operators act on entries with job params, inside the framework where there is no CLI:
``quarantine_retry`` (``all``, the default; ``none``; or keys, comma-separated or a JSON
list: only those are retried this run) and ``quarantine_discard`` (keys or ``all``:
deleted before the run, i.e. given up). Locally, ``python -m lib.cli quarantine
list|retry|discard`` does the same through :class:`QuarantineStore`.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence, Set
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeVar
from urllib.parse import quote

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from adapters.cursor import format_cursor, parse_timestamp
from adapters.failures import AdapterError, FailureClass
from adapters.nuntiq.listing import PageLimit, iter_rows, row_value
from adapters.nuntiq.retrier import nuntiq_retrier
from adapters.records import Refetch, RefusedItem
from adapters.retry import Retrier
from adapters.runtime import ApiLike, ContextLike, LoggerLike
from adapters.sinks.base import RecordRefused, Rejection
from adapters.sinks.documents import DocumentIntegrityError

__all__ = [
    "DEFAULT_TABLE",
    "ItemRefusedError",
    "Quarantine",
    "QuarantineEntry",
    "QuarantineLimitExceeded",
    "QuarantineSettings",
    "QuarantineStore",
    "refusal_reason",
]

DEFAULT_TABLE = "adapters_quarantine"
_MAX_ROW_KEY = 200
_PAGE = 200
_ROWS_PER_PUT = 1000
_SHOW_KEYS = 20
_REASON_CHARS = 1000

T = TypeVar("T")


class QuarantineSettings(BaseModel):
    """``config.quarantine`` of the job's settings (``false`` there means fail fast)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    max_items: int = Field(default=100, ge=0, description="refusals a run may always have")
    max_ratio: float = Field(default=0.01, ge=0, le=1, description="share of items read that may be refused")
    table: str = Field(default=DEFAULT_TABLE, min_length=1, max_length=100)

    def limit(self, items_read: int) -> int:
        """The most refusals (outside the retry pass) a run that read ``items_read`` items may have."""
        return max(self.max_items, int(self.max_ratio * items_read))


class QuarantineLimitExceeded(Exception):
    """More refusals than the threshold: a systematic fault, so the run fails."""


class ItemRefusedError(Exception):
    """A source refused an item and no quarantine is set (fail-fast behaviour)."""


def refusal_reason(exc: BaseException) -> str | None:
    """Why a sink refused one item permanently, or ``None`` when ``exc`` is a fault of the run.

    Refusals: a sink's :class:`~adapters.sinks.base.RecordRefused` (unmappable record),
    a document whose bytes never match what the source announced, and a classified
    ``invalid`` failure (a download or upload the other side keeps refusing as a bad
    request). Everything else (unreachable, auth, quota, retries exhausted) fails the
    run, because retrying the whole run later is the right answer to those.
    """
    if isinstance(exc, RecordRefused | DocumentIntegrityError):
        return str(exc)[:_REASON_CHARS]
    if isinstance(exc, AdapterError) and exc.kind is FailureClass.INVALID:
        return str(exc)[:_REASON_CHARS]
    return None


@dataclass(frozen=True, slots=True)
class QuarantineEntry:
    """One quarantined item of one stream."""

    key: str
    stream: str
    source: str
    stage: str  # who refused it: "source" or a sink's name
    reason: str
    first_seen: datetime
    last_seen: datetime
    times_seen: int = 1
    cursor: datetime | None = None
    refetch: Mapping[str, Any] = field(default_factory=dict)

    def to_value(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "stream": self.stream,
            "source": self.source,
            "stage": self.stage,
            "reason": self.reason,
            "first_seen": format_cursor(self.first_seen),
            "last_seen": format_cursor(self.last_seen),
            "times_seen": self.times_seen,
            "cursor": format_cursor(self.cursor) if self.cursor is not None else None,
            "refetch": dict(self.refetch),
        }

    @classmethod
    def from_value(cls, value: Mapping[str, Any]) -> QuarantineEntry:
        cursor = value.get("cursor")
        return cls(
            key=str(value["key"]),
            stream=str(value["stream"]),
            source=str(value.get("source") or ""),
            stage=str(value.get("stage") or ""),
            reason=str(value.get("reason") or ""),
            first_seen=parse_timestamp(str(value["first_seen"])),
            last_seen=parse_timestamp(str(value["last_seen"])),
            times_seen=int(value.get("times_seen", 1)),
            cursor=parse_timestamp(str(cursor)) if cursor else None,
            refetch=dict(value.get("refetch") or {}),
        )

    def as_refetch(self) -> Refetch:
        return Refetch(key=self.key, cursor=self.cursor, hint=self.refetch)


class QuarantineStore:
    """Quarantine entries of one connector, in the custom-data table ``table``.

    Row keys are ``{namespace}/{stream}/{key}`` (hashed when too long; the value keeps
    the full key), so one table serves every connector and stream of a customer.
    """

    def __init__(
        self,
        api: ApiLike,
        *,
        namespace: str,
        table: str = DEFAULT_TABLE,
        retrier: Retrier | None = None,
    ) -> None:
        if not namespace or len(namespace) > 100 or "/" in namespace:
            raise ValueError(f"quarantine namespace must be a short name without '/', got {namespace!r}")
        self.api = api
        self.namespace = namespace
        self.table = table
        self.retrier = retrier
        self._path = f"/v1/custom-data/{quote(table, safe='')}"
        self._page = PageLimit(_PAGE)  # a size the server refused is not asked again

    def row_key(self, stream: str, key: str) -> str:
        row = f"{self.namespace}/{stream}/{key}"
        if len(row) <= _MAX_ROW_KEY:
            return row
        return f"{self.namespace}/{stream}/sha256:{hashlib.sha256(key.encode()).hexdigest()}"

    def entries(self, stream: str | None = None) -> Iterator[QuarantineEntry]:
        """Every entry of ``stream`` (or of every stream of this namespace), paged."""
        prefix = f"{self.namespace}/{stream}/" if stream is not None else f"{self.namespace}/"
        rows = iter_rows(
            lambda params: self._call(_bind(self.api.get, self._path, params), step="quarantine_read"),
            {"key_prefix": prefix},
            limit=self._page,
            describe=f"quarantine {self.namespace}",
        )
        for row in rows:
            entry = _entry(row.get("value"))
            if entry is not None and (stream is None or entry.stream == stream):
                yield entry

    def put(self, entries: Sequence[QuarantineEntry]) -> None:
        rows = [{"key": self.row_key(e.stream, e.key), "value": e.to_value()} for e in entries]
        for start in range(0, len(rows), _ROWS_PER_PUT):
            data = {"rows": rows[start : start + _ROWS_PER_PUT]}
            self._call(_bind(self.api.put, self._path, data, "data"), step="quarantine_write")

    def remove(self, stream: str, keys: Iterable[str]) -> int:
        row_keys = [self.row_key(stream, k) for k in keys]
        for start in range(0, len(row_keys), _ROWS_PER_PUT):
            data = {"keys": row_keys[start : start + _ROWS_PER_PUT]}
            self._call(_bind(self.api.delete, self._path, data, "data"), step="quarantine_write")
        return len(row_keys)

    def _call(self, fn: Callable[[], T], *, step: str) -> T:
        return self.retrier.call(fn, step=step) if self.retrier is not None else fn()


def _bind(method: Callable[..., Any], path: str, value: Any, name: str = "params") -> Callable[[], Any]:
    return lambda: method(path, **{name: value})


def _entry(raw: Any) -> QuarantineEntry | None:
    value = row_value(raw)
    if value is None:
        return None
    try:
        return QuarantineEntry.from_value(value)
    except (KeyError, ValueError, TypeError):
        return None


def parse_keys(name: str, raw: Any) -> set[str] | None:
    """A job param naming quarantined keys: ``None`` for all, else the set (maybe empty).

    Accepted: ``all``; ``none`` (empty set); a JSON list of strings (for keys that hold
    commas); or comma-separated keys.
    """
    if raw is None:
        return None
    if isinstance(raw, list | tuple):
        return {str(k) for k in raw}
    text = str(raw).strip()
    if text.lower() in ("", "all", "*"):
        return None
    if text.lower() == "none":
        return set()
    if text.startswith("["):
        try:
            keys = json.loads(text)
        except ValueError:
            raise ValueError(f"job parameter {name} is not a JSON list of keys: {text!r:.80}") from None
        if not isinstance(keys, list) or not all(isinstance(k, str) for k in keys):
            raise ValueError(f"job parameter {name} must list keys as strings: {text!r:.80}")
        return set(keys)
    return {k.strip() for k in text.split(",") if k.strip()}


class Quarantine:
    """The quarantine of one run of one connector: what the sync driver calls.

    The driver calls :meth:`begin` once (entries to retry), :meth:`refuse` for each
    refused item, :meth:`landed` for each item handed to the sinks, :meth:`flush` right
    after every sink flush (before the batch counts durable) and :meth:`report` at the
    end. Keeping it one object with four calls leaves the driver's own logic alone.
    One object may serve several syncs one after another (a connector with a stream per
    company): :meth:`begin` starts each afresh.
    """

    def __init__(
        self,
        store: QuarantineStore,
        *,
        settings: QuarantineSettings | None = None,
        logger: LoggerLike | None = None,
        retry: Set[str] | None = None,
        discard: Set[str] | None = frozenset(),
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.store = store
        self.settings = settings or QuarantineSettings()
        self.log = logger
        #: keys to retry this run (``None``: every entry) and to discard first (``None``: all)
        self.retry_keys = retry
        self.discard_keys = discard
        self.now = now
        self._reset(stream="", source="")

    def _reset(self, *, stream: str, source: str) -> None:
        self.stream = stream
        self.source = source
        self._known: dict[str, QuarantineEntry] = {}
        self._pending: dict[str, QuarantineEntry] = {}
        self._landed: set[str] = set()
        self._refused_in_batch: set[str] = set()
        #: refusals while reading the run's window: what the threshold counts
        self.refused = 0
        self.refused_keys: list[str] = []
        #: quarantined items refused again in the retry pass (still bad at the source)
        self.retry_refused = 0
        self.released: list[str] = []
        self.discarded: list[str] = []
        self.retried = 0

    @classmethod
    def for_context(cls, context: ContextLike, *, connector_name: str) -> Quarantine | None:
        """The quarantine from ``config.quarantine`` and the job params, or ``None`` (fail fast).

        Settings and params are checked here, before any call is made.
        """
        raw = context.get_config("quarantine")
        if raw is False:
            return None
        if raw is None or raw is True:
            raw = {}
        if not isinstance(raw, Mapping):
            raise ValueError(f"config.quarantine must be false or an object of settings, got {raw!r:.80}")
        try:
            settings = QuarantineSettings.model_validate(dict(raw))
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in error['loc']) or 'quarantine'}: {error['msg']}"
                for error in exc.errors()
            )
            raise ValueError(f"config.quarantine is not valid: {problems}") from None
        discard_raw = context.get_param("quarantine_discard")
        discard = parse_keys("quarantine_discard", discard_raw) if discard_raw not in (None, "") else set()
        retry = parse_keys("quarantine_retry", context.get_param("quarantine_retry"))
        store = QuarantineStore(
            context.api, namespace=connector_name, table=settings.table, retrier=nuntiq_retrier(context)
        )
        return cls(store, settings=settings, logger=context.logger, retry=retry, discard=discard)

    # -- the driver's calls ---------------------------------------------------------------

    def begin(self, *, stream: str, source: str) -> list[Refetch]:
        """Load the stream's entries, apply ``quarantine_discard``; return what to retry."""
        self._reset(stream=stream, source=source)
        entries = list(self.store.entries(stream))
        drop = [e.key for e in entries if self.discard_keys is None or e.key in self.discard_keys]
        if drop:
            self.store.remove(stream, drop)
            self.discarded = drop
            self._warn(
                f"{stream}: discarded {len(drop)} quarantined item(s) on request: {_show(drop)}",
                {"stream": stream, "discarded": drop[:_SHOW_KEYS]},
            )
        self._known = {e.key: e for e in entries if e.key not in set(drop)}
        wanted = [
            e.as_refetch()
            for e in self._known.values()
            if self.retry_keys is None or e.key in self.retry_keys
        ]
        self.retried = len(wanted)
        if wanted:
            self._info(
                f"{stream}: retrying {len(wanted)} quarantined item(s) first",
                {"stream": stream, "keys": [w.key for w in wanted][:_SHOW_KEYS]},
            )
        return wanted

    def refuse_item(self, item: RefusedItem, *, retrying: bool) -> None:
        self.refuse(
            item.key,
            cursor=item.cursor,
            reason=item.reason,
            stage="source",
            hint=item.refetch,
            retrying=retrying,
        )

    def refuse(
        self,
        key: str,
        *,
        cursor: datetime | None,
        reason: str,
        stage: str,
        hint: Mapping[str, Any] | None = None,
        retrying: bool,
    ) -> None:
        """Keep ``key`` in quarantine (written on the next :meth:`flush`)."""
        now = self.now()
        previous = self._pending.get(key) or self._known.get(key)
        entry = QuarantineEntry(
            key=key,
            stream=self.stream,
            source=self.source,
            stage=stage,
            reason=reason[:_REASON_CHARS],
            first_seen=previous.first_seen if previous is not None else now,
            last_seen=now,
            times_seen=previous.times_seen + 1 if previous is not None else 1,
            cursor=cursor if cursor is not None else (previous.cursor if previous else None),
            refetch=dict(hint) if hint else (dict(previous.refetch) if previous else {}),
        )
        self._pending[key] = entry
        self._refused_in_batch.add(key)
        if retrying:
            self.retry_refused += 1
        else:
            self.refused += 1
            if len(self.refused_keys) < _SHOW_KEYS:
                self.refused_keys.append(key)
        if self.log is not None and previous is None:
            self.log.error(
                f"{self.stream}: quarantined {key!r} ({stage}): {entry.reason}",
                step="quarantine",
                detail={"stream": self.stream, "key": key, "stage": stage, "reason": entry.reason},
            )

    def landed(self, key: str) -> None:
        """``key`` went to the sinks; if it is quarantined, release it once the batch is durable."""
        if key in self._known or key in self._pending:
            self._landed.add(key)

    def flush(self, *, items_read: int) -> None:
        """Write this batch's refusals and releases durably, then enforce the threshold.

        Called after every sink flushed and before the batch counts durable, so the
        cursor never passes an item that is neither written nor kept.
        """
        if self._pending:
            self.store.put(list(self._pending.values()))
            self._known.update(self._pending)
            self._pending.clear()
        release = sorted(self._landed - self._refused_in_batch)
        if release:
            self.store.remove(self.stream, release)
            for key in release:
                self._known.pop(key, None)
            self.released.extend(release)
            self._info(
                f"{self.stream}: released {len(release)} quarantined item(s) that landed: {_show(release)}",
                {"stream": self.stream, "released": release[:_SHOW_KEYS]},
            )
        self._landed.clear()
        self._refused_in_batch.clear()
        self.check(items_read=items_read)

    def refuse_rejections(self, rejected: Iterable[Rejection], *, stage: str, retrying: bool) -> None:
        """Rows a sink's target rejected on flush (found by splitting the batch)."""
        for rejection in rejected:
            self._landed.discard(rejection.key)
            self.refuse(
                rejection.key,
                cursor=rejection.cursor,
                reason=rejection.reason,
                stage=stage,
                retrying=retrying,
            )

    def check(self, *, items_read: int) -> None:
        limit = self.settings.limit(items_read)
        if self.refused > limit:
            raise QuarantineLimitExceeded(
                f"{self.stream}: {self.refused} items refused after reading {items_read}, more than the "
                f"limit of {limit} (max of {self.settings.max_items} and {self.settings.max_ratio:.2%} of "
                f"items read): this looks like a systematic fault (a schema change, a wrong setting), "
                f"so the run fails and the cursor stays. First refused: {_show(self.refused_keys)}"
            )

    def report(self) -> dict[str, Any]:
        """Figures for the summary and the delta metadata (keys, never payloads)."""
        return {
            "refused": self.refused,
            "refused_keys": list(self.refused_keys),
            "retry_refused": self.retry_refused,
            "retried": self.retried,
            "released": len(self.released),
            "released_keys": self.released[:_SHOW_KEYS],
            "discarded": len(self.discarded),
            "held": len(self._known) + len(self._pending),
        }

    def _info(self, message: str, detail: Mapping[str, Any]) -> None:
        if self.log is not None:
            self.log.info(message, step="quarantine", detail=detail)

    def _warn(self, message: str, detail: Mapping[str, Any]) -> None:
        if self.log is not None:
            self.log.warn(message, step="quarantine", detail=detail)


def _show(keys: Sequence[str]) -> str:
    shown = ", ".join(keys[:_SHOW_KEYS])
    return shown + (f" and {len(keys) - _SHOW_KEYS} more" if len(keys) > _SHOW_KEYS else "")
