"""SQLite storage of the sandbox Nuntiq service.

One connection guarded by a lock: the service is a test double, so serialising
requests costs nothing that matters and keeps transactions trivially correct. Every
table carries the customer number and every query filters on it, which is what keeps
customers apart. Timestamps are fixed-width ISO strings (``...123456Z``) that sort
lexicographically, and :meth:`Store.now` never repeats or goes backwards, so
"created after" filters and (created_at, id) ordering are exact.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

SCHEMA = """
CREATE TABLE IF NOT EXISTS job_tokens (
    token TEXT PRIMARY KEY, customer TEXT NOT NULL, created_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS suppliers (
    pk INTEGER PRIMARY KEY AUTOINCREMENT, customer TEXT NOT NULL, supplier_number TEXT NOT NULL,
    id TEXT NOT NULL, supplier_name TEXT NOT NULL, is_active INTEGER NOT NULL DEFAULT 1,
    locations TEXT NOT NULL DEFAULT '[]', created_at TEXT NOT NULL, updated_at TEXT NOT NULL,
    UNIQUE (customer, supplier_number));
CREATE TABLE IF NOT EXISTS source_documents (
    pk INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL UNIQUE, customer TEXT NOT NULL,
    document_type TEXT, external_reference TEXT, properties TEXT NOT NULL DEFAULT '{}',
    created_at TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS source_documents_created ON source_documents (customer, created_at, id);
CREATE TABLE IF NOT EXISTS files (
    pk INTEGER PRIMARY KEY AUTOINCREMENT, customer TEXT NOT NULL, owner_kind TEXT NOT NULL,
    owner_id TEXT NOT NULL, file_name TEXT NOT NULL, media_type TEXT NOT NULL, size INTEGER NOT NULL,
    sha256 TEXT NOT NULL, attachment_token TEXT NOT NULL UNIQUE, content BLOB NOT NULL,
    created_at TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS files_owner ON files (customer, owner_kind, owner_id);
CREATE TABLE IF NOT EXISTS invoices (
    pk INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL UNIQUE, customer TEXT NOT NULL,
    invoice_number TEXT NOT NULL, data TEXT NOT NULL DEFAULT '{}', created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS lifecycle_messages (
    pk INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL UNIQUE, customer TEXT NOT NULL,
    invoice_id TEXT NOT NULL, level TEXT NOT NULL, message TEXT NOT NULL, created_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS custom_data (
    customer TEXT NOT NULL, table_name TEXT NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL,
    updated_at TEXT NOT NULL, PRIMARY KEY (customer, table_name, key));
CREATE TABLE IF NOT EXISTS delta_state (
    customer TEXT NOT NULL, connector_name TEXT NOT NULL, stream TEXT NOT NULL, cursor TEXT,
    cursor_type TEXT NOT NULL, updated_at TEXT NOT NULL,
    PRIMARY KEY (customer, connector_name, stream));
CREATE TABLE IF NOT EXISTS delta_runs (
    pk INTEGER PRIMARY KEY AUTOINCREMENT, run_id TEXT NOT NULL UNIQUE, customer TEXT NOT NULL,
    connector_name TEXT NOT NULL, stream TEXT NOT NULL, cursor_type TEXT NOT NULL,
    status TEXT NOT NULL, lower_bound_cursor TEXT, new_cursor TEXT,
    records_processed INTEGER NOT NULL DEFAULT 0, metadata TEXT NOT NULL DEFAULT '{}', error TEXT,
    started_at TEXT NOT NULL, finished_at TEXT);
CREATE INDEX IF NOT EXISTS delta_runs_stream ON delta_runs (customer, connector_name, stream, pk);
CREATE TABLE IF NOT EXISTS write_log (
    pk INTEGER PRIMARY KEY AUTOINCREMENT, customer TEXT NOT NULL, token TEXT NOT NULL, kind TEXT NOT NULL,
    key TEXT NOT NULL, detail TEXT NOT NULL DEFAULT '', at TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS write_log_customer ON write_log (customer, pk);
CREATE TABLE IF NOT EXISTS write_counters (
    customer TEXT NOT NULL, kind TEXT NOT NULL, n INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (customer, kind));
"""


def new_id() -> str:
    return str(uuid.uuid4())


def dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def format_ts(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class Store:
    """The database plus a monotonic clock.

    ``clock_offset_seconds`` sets the service's clock that far from the host's (the
    clock-skew proofs run the package on a host whose clock disagrees with Nuntiq's).
    """

    def __init__(self, path: str | None = None, *, clock_offset_seconds: float = 0.0) -> None:
        self.path = path or ":memory:"
        self.offset = timedelta(seconds=clock_offset_seconds)
        self._lock = threading.RLock()
        self._conn = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None, timeout=30)
        self._conn.row_factory = sqlite3.Row
        if self.path != ":memory:":
            self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.executescript(SCHEMA)
        self._last = datetime.now(UTC) + self.offset

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def now(self) -> str:
        """Current UTC time, strictly later than any value returned before."""
        with self._lock:
            current = datetime.now(UTC) + self.offset
            if current <= self._last:
                current = self._last + timedelta(microseconds=1)
            self._last = current
            return format_ts(current)

    @contextmanager
    def tx(self) -> Iterator[sqlite3.Connection]:
        """A write transaction: all or nothing."""
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield self._conn
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")

    @contextmanager
    def read(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            yield self._conn

    def log_write(
        self,
        conn: sqlite3.Connection,
        customer: str,
        token: str,
        kind: str,
        key: str,
        detail: str = "",
        at: str | None = None,
    ) -> None:
        """Record which job token wrote what, when (server time): the proofs' truth about writers."""
        conn.execute(
            "INSERT INTO write_log (customer, token, kind, key, detail, at) VALUES (?, ?, ?, ?, ?, ?)",
            (customer, token, kind, key, detail, at or self.now()),
        )

    @staticmethod
    def bump(conn: sqlite3.Connection, customer: str, kind: str, n: int = 1) -> None:
        """Count writes per customer (the CLI reports rows written per run from these)."""
        if n:
            conn.execute(
                "INSERT INTO write_counters (customer, kind, n) VALUES (?, ?, ?) "
                "ON CONFLICT (customer, kind) DO UPDATE SET n = n + excluded.n",
                (customer, kind, n),
            )
