"""The Nuntiq side: classifying ``context.api`` errors, and Nuntiq source documents as a source.

Nothing here imports ``lib``: production supplies its own framework package, so the
framework's ``ApiError`` is recognised by its documented attributes, not its type.
"""

from adapters.nuntiq.classifier import classify_nuntiq_error
from adapters.nuntiq.documents import NuntiqDocumentSource

__all__ = ["NuntiqDocumentSource", "classify_nuntiq_error"]
