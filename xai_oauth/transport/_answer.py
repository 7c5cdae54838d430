"""What a finished HTTP answer is, once the socket is gone: status, headers, parsed JSON. No httpx2 here.

``_http`` makes these; everything above it (the transport's pure decisions,
the token keeper, the media jobs) reads them without loading httpx2, so the
decisions can be tested and imported without a network stack.
"""

from __future__ import annotations

import email.utils
import math
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .._exceptions import MalformedResponse, RateLimited, ServerError

__all__ = ["Answer", "parse_retry_after"]


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
            raise MalformedResponse(f"The {what} answered with {kind} (HTTP {self.status}).", http_status=self.status)
        return self.body


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or an HTTP date)."""
    if not value:
        return None
    from .._numbers import bounded
    from ._retry import MAX_RETRY_AFTER

    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            seconds = email.utils.parsedate_to_datetime(value).timestamp() - (time.time() if now is None else now)
        except (TypeError, ValueError, OverflowError):
            return None
    finite = bounded(seconds, -math.inf, MAX_RETRY_AFTER)  # "inf", "nan", 1e400: not a wait anyone can keep
    return None if finite is None else max(0.0, finite)
