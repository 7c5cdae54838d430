"""What an error looks like to an OpenAI client, whole or mid-stream.

OpenAI's SDKs read ``{"error": {"message", "type", "code", "param"}}`` and
raise their own ``APIError`` from it, both as a whole answer's body (with its
HTTP status) and as a chat stream's data. Both OpenAI writers (chat chunks and
Responses events) and the server's error answers build it here, so the shape
is spelled once. Text that came from a server is scrubbed before it gets here
(``Failure`` carries scrubbed text); this module adds no text of its own.
"""

from __future__ import annotations

from typing import Any

from ._events import Failure

__all__ = [
    "RESPONSE_ERROR_CODES",
    "error_type_for",
    "failure_body",
    "openai_error_body",
    "read_failure",
    "response_error_code",
]

#: OpenAI's error ``type`` for each HTTP status a client can see from us; 5xx is ``server_error``.
_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    409: "conflict_error",
    413: "invalid_request_error",
    422: "invalid_request_error",
    429: "rate_limit_error",
}

#: The codes a Responses ``response.error`` may carry (the SDK validates them); anything else reads as
#: ``server_error`` there, while the ``error`` event beside it keeps our own code.
RESPONSE_ERROR_CODES = frozenset({"server_error", "rate_limit_exceeded", "invalid_prompt"})


def error_type_for(status: int) -> str:
    """OpenAI's error ``type`` for an HTTP status (``server_error`` for 5xx and anything unknown)."""
    return _TYPES.get(status, "invalid_request_error" if 400 <= status < 500 else "server_error")


def openai_error_body(status: int, message: str, code: str | None, type_: str | None = None) -> dict[str, Any]:
    """``{"error": {"message", "type", "code", "param": None}}``; ``type_`` defaults to the status's type."""
    return {"error": {"message": message, "type": type_ or error_type_for(status), "code": code, "param": None}}


def failure_body(failure: Failure) -> dict[str, Any]:
    """A ``Failure`` event as OpenAI's error body (a chat stream's last data, or a whole answer's body)."""
    return openai_error_body(failure.status, failure.message, failure.code)


def response_error_code(failure: Failure) -> str:
    """The code a failed Responses object carries: ours when the SDK knows it, else by status."""
    if failure.code in RESPONSE_ERROR_CODES:
        return failure.code
    return "rate_limit_exceeded" if failure.status == 429 else "server_error"


def read_failure(raw: Any, *, status: int = 502) -> Failure:
    """An upstream's OpenAI-shaped ``error`` object (or bare text) as a ``Failure``, its text scrubbed."""
    from .._redact import scrub

    error = raw if isinstance(raw, dict) else {"message": raw}
    message = error.get("message") if isinstance(error.get("message"), str) else None
    code = error.get("code") if isinstance(error.get("code"), str) else None
    return Failure(scrub(message or "The upstream reported an error."), code or "server_error", status)
