"""The slice of the framework's ``context`` that adapters rely on, as protocols.

Production supplies its own ``lib``; the local runtime in ``lib/`` supplies another.
Adapters import neither: they type against these protocols, so anything that has
the documented surface works.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import IO, Any, Protocol, runtime_checkable


@runtime_checkable
class LoggerLike(Protocol):
    def info(
        self, message: str, step: str | None = None, detail: Mapping[str, Any] | None = None
    ) -> None: ...

    def warn(
        self, message: str, step: str | None = None, detail: Mapping[str, Any] | None = None
    ) -> None: ...

    def error(
        self, message: str, step: str | None = None, detail: Mapping[str, Any] | None = None
    ) -> None: ...


FileTuple = tuple[str, IO[bytes] | bytes, str]  # (file name, content, media type)


class ApiLike(Protocol):
    """``context.api``: the authenticated Nuntiq customer-API client."""

    def get(
        self,
        path: str,
        params: Mapping[str, Any] | None = None,
        extra_headers: Mapping[str, str] | None = None,
    ) -> Any: ...

    def post(self, path: str, data: Any = None, extra_headers: Mapping[str, str] | None = None) -> Any: ...

    def put(self, path: str, data: Any = None, extra_headers: Mapping[str, str] | None = None) -> Any: ...

    def delete(self, path: str, data: Any = None, extra_headers: Mapping[str, str] | None = None) -> Any: ...

    def download_attachment(self, attachment_token: str) -> bytes: ...

    def upload_source_documents(self, files: list[FileTuple], **kwargs: Any) -> Any: ...


class ContextLike(Protocol):
    """The job context the framework passes to ``run(context)``."""

    @property
    def api(self) -> ApiLike: ...

    @property
    def logger(self) -> LoggerLike: ...

    def get_config(self, key: str, default: Any = None) -> Any: ...

    def get_secret(self, key: str) -> Any: ...

    def get_param(self, key: str, default: Any = None) -> Any: ...


def require_config(context: ContextLike, key: str) -> Any:
    """``context.get_config(key)``, refusing a missing or empty value with a message naming it.

    Connectors check their required settings first, so a settings mistake fails before
    any call is made and says which key to fix.
    """
    value = context.get_config(key)
    if not value:
        raise ValueError(f"config.{key} is required")
    return value
