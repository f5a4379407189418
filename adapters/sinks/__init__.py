"""Sinks: where synced items are written (Loads, source documents, custom-data rows)."""

from adapters.sinks.base import (
    IsolatedFlush,
    IsolatingSink,
    RecordRefused,
    Rejection,
    Sink,
    SinkCounts,
    SinkError,
)
from adapters.sinks.documents import DocumentIntegrityError, DocumentSink
from adapters.sinks.load import LoadSink, LoadValidationError, MappingError
from adapters.sinks.rows import RowSink

__all__ = [
    "DocumentIntegrityError",
    "DocumentSink",
    "IsolatedFlush",
    "IsolatingSink",
    "LoadSink",
    "LoadValidationError",
    "MappingError",
    "RecordRefused",
    "Rejection",
    "RowSink",
    "Sink",
    "SinkCounts",
    "SinkError",
]
