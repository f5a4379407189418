"""A ``context.logger`` that keeps every call, so a test can assert on what was logged."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NamedTuple

__all__ = ["LogRecord", "RecordingLogger"]


class LogRecord(NamedTuple):
    level: str
    message: str
    step: str | None
    detail: Any


class RecordingLogger:
    """Implements :class:`adapters.runtime.LoggerLike`; nothing is printed, everything kept."""

    def __init__(self) -> None:
        self.records: list[LogRecord] = []

    def info(self, message: str, step: str | None = None, detail: Mapping[str, Any] | None = None) -> None:
        self.records.append(LogRecord("info", message, step, detail))

    def warn(self, message: str, step: str | None = None, detail: Mapping[str, Any] | None = None) -> None:
        self.records.append(LogRecord("warn", message, step, detail))

    def error(self, message: str, step: str | None = None, detail: Mapping[str, Any] | None = None) -> None:
        self.records.append(LogRecord("error", message, step, detail))

    def of(self, level: str) -> list[LogRecord]:
        return [r for r in self.records if r.level == level]

    def steps(self) -> list[str | None]:
        return [r.step for r in self.records]

    def warnings(self) -> list[str]:
        return [r.message for r in self.of("warn")]

    def text(self) -> str:
        """Every message and detail as one string, for "this never appears" assertions."""
        return "\n".join(f"{r.level} {r.step} {r.message} {r.detail!r}" for r in self.records)
