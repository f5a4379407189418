"""``context.api``: the authenticated HTTP client to the Nuntiq customer API.

Built on one ``requests.Session`` so a job reuses its keep-alive connections. Every
call adds ``Authorization: Bearer <job token>`` and ``X-Customer-Number``; bodies go
as JSON. Every failure surfaces as :class:`ApiError`: the HTTP status for a non-2xx
answer, ``status_code == 0`` when no complete answer arrived (refused, timed out,
connection dropped mid-response). The client does not retry: the retry policy lives
in one place (``adapters.retry``), which classifies ``ApiError`` like any other failure.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import IO, Any
from urllib.parse import quote

import requests

FileTuple = tuple[str, IO[bytes] | bytes, str]

_MAX_MESSAGE = 300


class ApiError(Exception):
    """A customer-API call failed.

    ``status_code`` is the HTTP status, or 0 when the server could not be reached or
    the response was cut off. ``response_body`` is the raw body as text ("" if none).
    ``str(e)`` is ``"API error {status}: {message}"``; it never contains the job token.
    ``retry_after`` is the raw ``Retry-After`` header of a 429/503 (``None`` if absent), so
    a retry policy can wait as long as the server asked instead of guessing.
    """

    def __init__(
        self,
        status_code: int,
        response_body: str = "",
        message: str | None = None,
        retry_after: str | None = None,
    ) -> None:
        self.status_code = status_code
        self.response_body = response_body
        self.retry_after = retry_after
        self.message = message if message is not None else _message_from_body(status_code, response_body)
        super().__init__(f"API error {status_code}: {self.message}")

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.status_code, self.response_body, self.message, self.retry_after))


def _message_from_body(status_code: int, body: str) -> str:
    try:
        parsed = json.loads(body) if body else None
    except ValueError:
        parsed = None
    message = parsed.get("message") if isinstance(parsed, dict) else None
    if isinstance(message, str):
        return message
    text = body.strip()
    if text:
        return text[:_MAX_MESSAGE]
    return "no response from server" if status_code == 0 else "empty error response"


class ApiClient:
    """HTTP client scoped to one job token and one customer."""

    def __init__(self, base_url: str, job_token: str, customer_number: str, timeout: float = 30) -> None:
        if not base_url:
            raise ValueError("ApiClient needs a base_url")
        self.base_url = base_url.rstrip("/")
        self.customer_number = str(customer_number)
        self.timeout = timeout
        self._token = job_token
        self.session = requests.Session()
        self.session.headers.update(
            {
                "Authorization": f"Bearer {job_token}",
                "X-Customer-Number": self.customer_number,
                "Accept": "application/json",
                "User-Agent": "nuntiq-adapters-local-runtime",
            }
        )

    def __repr__(self) -> str:  # never show the token
        return f"ApiClient(base_url={self.base_url!r}, customer_number={self.customer_number!r})"

    def close(self) -> None:
        self.session.close()

    # -- JSON verbs -------------------------------------------------------------------

    def get(
        self,
        path: str,
        params: Mapping[str, Any] | None = None,
        extra_headers: Mapping[str, str] | None = None,
    ) -> Any:
        return self._json("GET", path, params=params, extra_headers=extra_headers)

    def post(self, path: str, data: Any = None, extra_headers: Mapping[str, str] | None = None) -> Any:
        return self._json("POST", path, data=data, extra_headers=extra_headers)

    def put(self, path: str, data: Any = None, extra_headers: Mapping[str, str] | None = None) -> Any:
        return self._json("PUT", path, data=data, extra_headers=extra_headers)

    def delete(self, path: str, data: Any = None, extra_headers: Mapping[str, str] | None = None) -> Any:
        return self._json("DELETE", path, data=data, extra_headers=extra_headers)

    # -- files ------------------------------------------------------------------------

    def download_attachment(self, attachment_token: str) -> bytes:
        """The bytes of an attachment (source-document file or invoice attachment)."""
        path = f"/v1/attachments/{quote(str(attachment_token), safe='')}"
        response = self._send("GET", path, stream=True)
        try:
            chunks = list(response.iter_content(chunk_size=64 * 1024))
        except requests.RequestException as exc:
            raise self._unreachable(exc) from None
        finally:
            response.close()
        return b"".join(chunks)

    def upload_source_documents(self, files: Iterable[FileTuple], **kwargs: Any) -> Any:
        """Create ONE new source document holding ``files``; ``kwargs`` become form fields.

        Every call creates a new document, even with identical files: callers that
        must not duplicate documents need their own idempotency (see adapters.sinks).
        """
        return self._multipart("/v1/source-documents", files, kwargs)

    def upload_invoice_attachments(self, files: Iterable[FileTuple], invoice_id: str, **kwargs: Any) -> Any:
        """Add ``files`` as attachments of an existing invoice."""
        path = f"/v1/invoices/{quote(str(invoice_id), safe='')}/attachments"
        return self._multipart(path, files, kwargs)

    # -- plumbing -----------------------------------------------------------------------

    def _multipart(self, path: str, files: Iterable[FileTuple], fields: Mapping[str, Any]) -> Any:
        parts: list[tuple[str, tuple[str, Any, str]]] = []
        for entry in files:
            try:
                name, content, media_type = entry
            except (TypeError, ValueError):
                raise ValueError(
                    "each file must be a (file_name, bytes or binary stream, media_type) tuple"
                ) from None
            if not name:
                raise ValueError("a file to upload has no file name")
            parts.append(("files", (str(name), content, str(media_type or "application/octet-stream"))))
        if not parts:
            raise ValueError("upload needs at least one file")
        form = {
            key: value if isinstance(value, str) else json.dumps(value)
            for key, value in fields.items()
            if value is not None
        }
        response = self._send("POST", path, data=form, files=parts)
        return self._parse(response)

    def _json(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        data: Any = None,
        extra_headers: Mapping[str, str] | None = None,
    ) -> Any:
        body = None
        headers = dict(extra_headers or {})
        if data is not None:
            body = json.dumps(data, default=str).encode()
            headers.setdefault("Content-Type", "application/json")
        response = self._send(method, path, params=params, content=body, headers=headers)
        return self._parse(response)

    def _url(self, path: str) -> str:
        if path.startswith(("http://", "https://")):
            return path
        return f"{self.base_url}/{path.lstrip('/')}"

    def _send(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        content: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        data: Any = None,
        files: Any = None,
        stream: bool = False,
    ) -> requests.Response:
        try:
            response = self.session.request(
                method,
                self._url(path),
                params=_clean_params(params),
                data=content if content is not None else data,
                files=files,
                headers=dict(headers or {}),
                timeout=self.timeout,
                stream=stream,
            )
            if not stream or response.status_code >= 300:
                _ = response.content  # read now, so a cut-off body is a reach failure here
        except requests.RequestException as exc:
            raise self._unreachable(exc) from None
        if response.status_code >= 300:
            raise ApiError(
                response.status_code,
                self._hide(response.text),
                retry_after=response.headers.get("Retry-After"),
            )
        return response

    def _parse(self, response: requests.Response) -> Any:
        if not response.content or not response.content.strip():
            return None
        try:
            return response.json()
        except ValueError:
            raise ApiError(
                response.status_code,
                self._hide(response.text),
                message=f"response is not valid JSON (content-type {response.headers.get('content-type')!r})",
            ) from None

    def _unreachable(self, exc: BaseException) -> ApiError:
        return ApiError(0, "", message=self._hide(f"could not reach the server: {type(exc).__name__}: {exc}"))

    def _hide(self, text: str) -> str:
        return text.replace(self._token, "***") if self._token else text


def _clean_params(params: Mapping[str, Any] | None) -> dict[str, Any] | None:
    if params is None:
        return None
    cleaned: dict[str, Any] = {}
    for key, value in params.items():
        if value is None:
            continue
        cleaned[key] = ("true" if value else "false") if isinstance(value, bool) else value
    return cleaned
