"""Structured job logger that can never print a secret.

Every record is one JSON object per line (``ts``, ``level``, ``message``, ``step``,
``detail``). The logger knows the job's secret values (settings ``secrets`` and the
job token) and replaces each of them wherever it occurs -- in the message, in any
string nested inside ``detail``, in dictionary keys, and inside longer strings such as
exception texts or URLs -- before anything is written or kept in memory.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any, TextIO

REDACTED = "***"

#: secret values shorter than this are not redacted: replacing e.g. "1" or "ab"
#: everywhere would destroy every log line while protecting nothing real.
MIN_SECRET_LENGTH = 4


def collect_secret_values(value: Any) -> list[str]:
    """Flatten a ``secrets`` mapping (possibly nested) into the string values to hide."""
    found: list[str] = []
    if isinstance(value, Mapping):
        for item in value.values():
            found.extend(collect_secret_values(item))
    elif isinstance(value, list | tuple | set):
        for item in value:
            found.extend(collect_secret_values(item))
    elif isinstance(value, str | int | float) and not isinstance(value, bool):
        text = str(value)
        if len(text) >= MIN_SECRET_LENGTH:
            found.append(text)
    return found


class Redactor:
    """Replaces known secret values (and their JSON-escaped forms) in any value."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self._secrets: list[str] = []
        self.add(secrets)

    def add(self, secrets: Iterable[str]) -> None:
        values = set(self._secrets)
        for secret in secrets:
            if secret and len(secret) >= MIN_SECRET_LENGTH:
                values.add(secret)
                escaped = json.dumps(secret)[1:-1]
                if escaped != secret:
                    values.add(escaped)
        # Longest first, so a secret containing another secret is hidden whole.
        self._secrets = sorted(values, key=len, reverse=True)

    def text(self, value: str) -> str:
        for secret in self._secrets:
            if secret in value:
                value = value.replace(secret, REDACTED)
        return value

    def value(self, value: Any) -> Any:
        """A JSON-ready copy of ``value`` with every secret replaced."""
        if isinstance(value, str):
            return self.text(value)
        if value is None or isinstance(value, bool | int | float):
            return value
        if isinstance(value, Mapping):
            return {self.text(str(k)): self.value(v) for k, v in value.items()}
        if isinstance(value, list | tuple | set | frozenset):
            return [self.value(v) for v in value]
        if isinstance(value, bytes | bytearray):
            return f"<{len(value)} bytes>"
        if isinstance(value, BaseException):
            return self.text(f"{type(value).__name__}: {value}")
        return self.text(str(value))


class Logger:
    """``context.logger``: ``info`` / ``warn`` / ``error`` with optional ``step`` and ``detail``.

    ``fmt="json"`` writes JSON lines (what the framework collects); ``fmt="human"``
    writes short readable lines for a terminal. ``keep_records=True`` also keeps the
    (already redacted) records in :attr:`records`.
    """

    def __init__(
        self,
        stream: TextIO | None = None,
        *,
        secrets: Iterable[str] = (),
        fmt: str = "json",
        keep_records: bool = False,
    ) -> None:
        if fmt not in ("json", "human"):
            raise ValueError(f"unknown log format {fmt!r} (expected 'json' or 'human')")
        self._stream = stream
        self.redactor = Redactor(secrets)
        self.fmt = fmt
        self.records: list[dict[str, Any]] | None = [] if keep_records else None

    @property
    def stream(self) -> TextIO:
        return self._stream if self._stream is not None else sys.stderr

    def redact(self, value: Any) -> Any:
        return self.redactor.value(value)

    def info(self, message: str, step: str | None = None, detail: Mapping[str, Any] | None = None) -> None:
        self._emit("info", message, step, detail)

    def warn(self, message: str, step: str | None = None, detail: Mapping[str, Any] | None = None) -> None:
        self._emit("warn", message, step, detail)

    warning = warn

    def error(self, message: str, step: str | None = None, detail: Mapping[str, Any] | None = None) -> None:
        self._emit("error", message, step, detail)

    def _emit(self, level: str, message: Any, step: str | None, detail: Any) -> None:
        record: dict[str, Any] = {
            "ts": datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "level": level,
            "message": self.redactor.value(message if isinstance(message, str) else str(message)),
            "step": self.redactor.value(step),
            "detail": self.redactor.value(detail),
        }
        if self.records is not None:
            self.records.append(record)
        if self.fmt == "json":
            line = json.dumps(record, ensure_ascii=False, default=str)
        else:
            line = format_human(record)
        # Second pass over the final text: nothing that slipped through formatting leaves.
        self.stream.write(self.redactor.text(line) + "\n")
        self.stream.flush()


def format_human(record: Mapping[str, Any]) -> str:
    """``HH:MM:SS LEVEL [step] message {detail}`` for terminals."""
    ts = str(record.get("ts", ""))[11:19]
    step = f"[{record['step']}] " if record.get("step") else ""
    detail = record.get("detail")
    extra = f"  {json.dumps(detail, ensure_ascii=False, default=str)}" if detail else ""
    return f"{ts} {str(record.get('level', '')).upper():5} {step}{record.get('message', '')}{extra}"
