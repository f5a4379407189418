"""How a REST source proves who it is: bearer token, basic auth or an API-key header.

Each kind names the *secret* that holds the credential, never the value, so a settings
file or a stream declaration can be shown, logged and committed. The value is read from
the job context when the source is built and lives only inside the ``httpx.Auth`` that
sets the header, which keeps it out of URLs, log lines and exception text.
"""

from __future__ import annotations

import base64
from collections.abc import Generator
from dataclasses import dataclass
from typing import Protocol

import httpx

from adapters.runtime import ContextLike

__all__ = ["ApiKeyHeader", "Auth", "BasicAuth", "BearerToken", "NoAuth", "read_secret"]


def read_secret(context: ContextLike, name: str) -> str:
    """The secret ``name`` as text; a missing or empty one is refused naming it (not its value)."""
    value = context.get_secret(name)
    if value is None or not str(value).strip():
        raise ValueError(f"secrets.{name} is required (the REST source authenticates with it)")
    return str(value).strip()


class _HeaderAuth(httpx.Auth):
    """Sets one header on every request; ``repr`` shows the header name only."""

    def __init__(self, header: str, value: str) -> None:
        self._header = header
        self._value = value

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers[self._header] = self._value
        yield request

    def __repr__(self) -> str:
        return f"<{self._header} header auth>"


class Auth(Protocol):
    """An auth declaration: builds the request auth from the context's secrets."""

    def build(self, context: ContextLike) -> httpx.Auth | None: ...

    @property
    def hint(self) -> str:
        """What to check when the API answers 401/403 (names the secret, never its value)."""
        ...


@dataclass(frozen=True)
class BearerToken:
    """``Authorization: Bearer <secret>``."""

    secret: str

    def build(self, context: ContextLike) -> httpx.Auth:
        return _HeaderAuth("Authorization", f"Bearer {read_secret(context, self.secret)}")

    @property
    def hint(self) -> str:
        return f"check the bearer token in secrets.{self.secret}"


@dataclass(frozen=True)
class BasicAuth:
    """``Authorization: Basic base64(user:password)``, both parts read from secrets."""

    username_secret: str
    password_secret: str

    def build(self, context: ContextLike) -> httpx.Auth:
        pair = f"{read_secret(context, self.username_secret)}:{read_secret(context, self.password_secret)}"
        return _HeaderAuth("Authorization", "Basic " + base64.b64encode(pair.encode()).decode("ascii"))

    @property
    def hint(self) -> str:
        return f"check secrets.{self.username_secret} and secrets.{self.password_secret}"


@dataclass(frozen=True)
class ApiKeyHeader:
    """An API key in a header of the API's choosing (``X-API-Key: <secret>``), with an optional prefix."""

    secret: str
    header: str = "X-API-Key"
    prefix: str = ""

    def build(self, context: ContextLike) -> httpx.Auth:
        return _HeaderAuth(self.header, f"{self.prefix}{read_secret(context, self.secret)}")

    @property
    def hint(self) -> str:
        return f"check the API key in secrets.{self.secret} (sent as {self.header})"


@dataclass(frozen=True)
class NoAuth:
    """For open APIs."""

    def build(self, context: ContextLike) -> None:
        return None

    @property
    def hint(self) -> str:
        return "the API refused an unauthenticated request; declare an auth for this stream"
