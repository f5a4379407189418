"""A stand-in for ``ConnectClient`` that serves scripted pages and records every request."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import requests

Page = tuple[list[dict[str, Any]], str | None]  # (items, Content-Range header)


class _Response:
    def __init__(self, content_range: str | None) -> None:
        self.headers = requests.structures.CaseInsensitiveDict()
        if content_range is not None:
            self.headers["Content-Range"] = content_range


class ScriptedClient:
    """``get(url, params=...)`` answers from ``pages`` (a list, or a function of the call)."""

    endpoint = "http://connect.invalid/public/v1"
    api_key = "ApiKey SU-000-000-000:fake"
    default_limit = 100
    timeout = (1.0, 1.0)

    def __init__(self, pages: list[Page] | Callable[[str, dict[str, Any]], Page]) -> None:
        self.pages = pages
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.response: _Response | None = None

    def get(self, url: str, **kwargs: Any) -> Any:
        params = dict(kwargs.get("params") or {})
        self.calls.append((url, params))
        if callable(self.pages):
            items, content_range = self.pages(url, params)
        else:
            items, content_range = self.pages.pop(0) if self.pages else ([], "items 0-0/0")
        self.response = _Response(content_range)
        return items

    def queries(self) -> list[str]:
        return [urlsplit(url).query for url, _ in self.calls]
