"""The one module that imports httpx2.

Everything above it deals in ``Answer`` (status, headers, parsed JSON) and
our own exceptions, so protocol logic can be tested without sockets and the
~200 ms httpx2 import happens only when a request is really made.

Transport failures become ``NetworkError`` with ``maybe_sent``: a refused
connection or a connect timeout means the server never saw the request; a
read timeout or a dropped connection means it may have, which matters for
one-time credentials (rotating refresh tokens, device codes).
"""

from __future__ import annotations

import email.utils
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx2

from ._exceptions import MalformedResponse, NetworkError, RateLimited, ServerError

__all__ = ["Answer", "Http", "httpx2", "parse_retry_after"]

USER_AGENT = "xai-oauth/0.1"
DEFAULT_TIMEOUT = httpx2.Timeout(30.0, connect=10.0)


@dataclass(frozen=True)
class Answer:
    """A finished HTTP response, reduced to what protocol code needs."""

    status: int
    headers: Mapping[str, str] = field(repr=False)
    body: Any = field(repr=False)  # parsed JSON, or None when the body was not JSON
    content_type: str = ""

    @property
    def is_html(self) -> bool:
        return "html" in self.content_type

    def json_object(self, what: str) -> dict[str, Any]:
        """The body as a JSON object, raising the right error for 429, 5xx and non-JSON answers."""
        if self.status == 429:
            raise RateLimited(
                f"The {what} is rate limited (HTTP 429).",
                retry_after=parse_retry_after(self.headers.get("retry-after")),
                http_status=429,
            )
        if self.status >= 500:
            raise ServerError(f"The {what} failed with HTTP {self.status}.", http_status=self.status)
        if not isinstance(self.body, dict):
            kind = "an HTML page" if self.is_html else "something that is not a JSON object"
            raise MalformedResponse(
                f"The {what} answered with {kind} (HTTP {self.status}).", http_status=self.status
            )
        return self.body


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value).timestamp()
    except (TypeError, ValueError):
        return None
    return max(0.0, when - (time.time() if now is None else now))


class Http:
    """A lazily created httpx2 client with our error mapping.

    ``transport`` is injected by tests (``httpx2.MockTransport``) and by
    developers who need a proxy or custom TLS.
    """

    def __init__(self, transport: httpx2.BaseTransport | None = None, timeout: Any = DEFAULT_TIMEOUT) -> None:
        self._transport = transport
        self._timeout = timeout
        self._client: httpx2.Client | None = None

    @property
    def client(self) -> httpx2.Client:
        if self._client is None:
            self._client = httpx2.Client(
                transport=self._transport,
                timeout=self._timeout,
                headers={"User-Agent": USER_AGENT, "Accept": "application/json"},
                follow_redirects=False,
            )
        return self._client

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    def get(self, url: str, *, headers: Mapping[str, str] | None = None, timeout: Any = None) -> Answer:
        return self._send("GET", url, headers=headers, timeout=timeout)

    def post_form(
        self, url: str, data: Mapping[str, str], *, headers: Mapping[str, str] | None = None, timeout: Any = None
    ) -> Answer:
        return self._send("POST", url, data=data, headers=headers, timeout=timeout)

    def _send(self, method: str, url: str, *, timeout: Any = None, **kwargs: Any) -> Answer:
        extra: dict[str, Any] = {}
        if timeout is not None:
            extra["timeout"] = timeout
        try:
            response = self.client.request(method, url, **kwargs, **extra)
        except (httpx2.ConnectError, httpx2.ConnectTimeout, httpx2.UnsupportedProtocol, httpx2.InvalidURL):
            raise NetworkError(f"Could not connect to {_origin(url)}.", maybe_sent=False) from None
        except httpx2.PoolTimeout:
            raise NetworkError(f"Timed out waiting for a connection to {_origin(url)}.") from None
        except httpx2.TimeoutException:
            raise NetworkError(f"{_origin(url)} did not answer in time.", maybe_sent=True) from None
        except httpx2.HTTPError:
            raise NetworkError(f"The connection to {_origin(url)} failed mid-request.", maybe_sent=True) from None
        content_type = response.headers.get("content-type", "").lower()
        try:
            body = response.json() if response.content else None
        except ValueError:
            body = None
        return Answer(
            status=response.status_code,
            headers={k.lower(): v for k, v in response.headers.items()},
            body=body,
            content_type=content_type,
        )


def _origin(url: str) -> str:
    """Scheme and host only: URLs never carry secrets into messages, but paths and queries could."""
    parsed = httpx2.URL(url)
    return f"{parsed.scheme}://{parsed.netloc.decode()}" if parsed.host else "the server"
